'use strict';
// The command line run.js and run_items.js share:
//   MODEL.onnx --input NAME=FILE.npy ... --outdir DIR [--OPT N ...]
// ints maps each integer option to {key, min, def}: parseArgs(argv, USAGE,
// { '--threads': { key: 'threads', min: 1, def: 1 } }) -> { model, inputs:
// [{name, file}], outdir, threads }. -h / --help prints usage and exits 0;
// anything wrong throws an Error (the caller prints it and exits 1).

function posInt(opt, v, min) {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new Error(`${opt} wants an integer >= ${min}, got '${v}'`);
  return Number(v);
}

function parseArgs(argv, usage, ints) {
  const a = { model: null, inputs: [], outdir: null };
  for (const o of Object.values(ints)) a[o.key] = o.def;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--input') {
      if (v === undefined || !v.includes('=')) throw new Error(`--input wants NAME=FILE.npy, got '${v}'`);
      const eq = v.lastIndexOf('=');
      a.inputs.push({ name: v.slice(0, eq), file: v.slice(eq + 1) });
      i++;
    } else if (k === '--outdir') {
      if (v === undefined) throw new Error('--outdir wants a directory');
      a.outdir = v; i++;
    } else if (Object.prototype.hasOwnProperty.call(ints, k)) {
      a[ints[k].key] = posInt(k, v, ints[k].min); i++;
    } else if (k === '-h' || k === '--help') {
      console.log(usage); process.exit(0);
    } else if (k.startsWith('-')) throw new Error(`unknown option '${k}'`);
    else if (a.model === null) a.model = k;
    else throw new Error(`unexpected argument '${k}'`);
  }
  if (a.model === null) throw new Error('missing MODEL.onnx');
  if (a.outdir === null) throw new Error('missing --outdir DIR');
  return a;
}

module.exports = { parseArgs };
