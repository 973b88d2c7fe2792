#!/usr/bin/env node
'use strict';
// Run an ONNX model on onnxruntime-node with .npy inputs; write every output as .npy.
//
//   node tools/ort/run.js MODEL.onnx --input NAME=FILE.npy ... --outdir DIR
//        [--threads 1] [--repeat 1] [--warmup 0]
//
// Outputs go to DIR/<sanitized output name>.npy (characters outside [A-Za-z0-9._-]
// become '_'). One JSON line on stdout: model, threads, latencies_ms, median_ms,
// inputs and outputs (name, file, dtype, shape). Exit 1 with "run.js: ..." on error.
const fs = require('fs');
const path = require('path');
const npy = require('./npy');
const ortlib = require('./ort');
const { sanitize } = require('./names');
const shared = require('./args');

const USAGE = 'usage: node tools/ort/run.js MODEL.onnx --input NAME=FILE.npy ... --outdir DIR [--threads 1] [--repeat 1] [--warmup 0]';

function parseArgs(argv) {
  return shared.parseArgs(argv, USAGE, {
    '--threads': { key: 'threads', min: 1, def: 1 },
    '--repeat': { key: 'repeat', min: 1, def: 1 },
    '--warmup': { key: 'warmup', min: 0, def: 0 },
  });
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = ortlib.load();
  const session = await ortlib.open(ort, a.model, a.threads);
  const given = new Map();
  for (const inp of a.inputs) {
    if (given.has(inp.name)) throw new Error(`input '${inp.name}' given twice`);
    if (!session.inputNames.includes(inp.name)) {
      throw new Error(`${a.model}: has no input '${inp.name}' (inputs: ${session.inputNames.join(', ')})`);
    }
    given.set(inp.name, inp.file);
  }
  const missing = session.inputNames.filter((n) => !given.has(n));
  if (missing.length) throw new Error(`${a.model}: missing --input for ${missing.map((n) => `'${n}'`).join(', ')}`);

  const feeds = {};
  const inInfo = [];
  for (const [name, file] of given) {
    const t = npy.read(file);
    try {
      feeds[name] = new ort.Tensor(t.dtype, t.data, t.shape);
    } catch (e) {
      throw new Error(`${file}: cannot make a tensor for input '${name}' (${e.message})`);
    }
    inInfo.push({ name, file, dtype: t.dtype, shape: t.shape });
  }

  const files = new Map();
  for (const name of session.outputNames) {
    const f = `${sanitize(name)}.npy`;
    if (files.has(f)) throw new Error(`outputs '${files.get(f)}' and '${name}' both map to ${f}`);
    files.set(f, name);
  }

  let res;
  try {
    res = await ortlib.timedRuns(session, feeds, a.repeat, a.warmup);
  } catch (e) {
    throw new Error(`${a.model}: run failed (${e.message})`);
  }
  fs.mkdirSync(a.outdir, { recursive: true });
  const outInfo = [];
  for (const name of session.outputNames) {
    const t = res.outputs[name];
    const file = path.join(a.outdir, `${sanitize(name)}.npy`);
    npy.write(file, t.type, t.dims, t.data);
    outInfo.push({ name, file, dtype: t.type, shape: t.dims.map(Number) });
  }
  const r3 = (x) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({
    model: a.model,
    threads: a.threads,
    repeat: a.repeat,
    warmup: a.warmup,
    latencies_ms: res.latencies.map(r3),
    median_ms: r3(ortlib.median(res.latencies)),
    inputs: inInfo,
    outputs: outInfo,
  }));
}

main().catch((e) => {
  process.stderr.write(`run.js: ${e.message}\n`);
  process.exit(1);
});
