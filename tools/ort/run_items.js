#!/usr/bin/env node
'use strict';
// Run an ONNX model on a stack of inputs, a batch at a time; write each output stacked.
//
//   node tools/ort/run_items.js MODEL.onnx --input NAME=FILE.npy ... --outdir DIR
//        [--batch B] [--threads 1]
//
// Every input FILE holds items along its first dimension (all inputs the same count).
// The items are run B at a time (default: all in one run; --batch 1 for models with a
// fixed batch of 1, as BlazeFace's), and each output's batches are concatenated along
// the first dimension into DIR/<sanitized output name>.npy (as run.js names them).
// One JSON line on stdout: model, items, batch, runs, ms (total run time), outputs
// (name, file, dtype, shape). Exit 1 with "run_items.js: ..." on error.
const fs = require('fs');
const path = require('path');
const npy = require('./npy');
const ortlib = require('./ort');
const { sanitize } = require('./names');
const shared = require('./args');

const USAGE = 'usage: node tools/ort/run_items.js MODEL.onnx --input NAME=FILE.npy ... --outdir DIR [--batch B] [--threads 1]';

function parseArgs(argv) {
  const a = shared.parseArgs(argv, USAGE, {
    '--threads': { key: 'threads', min: 1, def: 1 },
    '--batch': { key: 'batch', min: 1, def: 0 },
  });
  if (a.inputs.length === 0) throw new Error('missing --input NAME=FILE.npy');
  return a;
}

// Items lo..hi-1 of a stacked array t as an ort.Tensor (a view when it can be one).
function slice(ort, t, lo, hi) {
  const per = t.shape.slice(1).reduce((x, y) => x * y, 1);
  const data = t.data.subarray(lo * per, hi * per);
  return new ort.Tensor(t.dtype, data, [hi - lo, ...t.shape.slice(1)]);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = ortlib.load();
  const session = await ortlib.open(ort, a.model, a.threads);
  const stacks = new Map();
  let items = -1;
  for (const inp of a.inputs) {
    if (stacks.has(inp.name)) throw new Error(`input '${inp.name}' given twice`);
    if (!session.inputNames.includes(inp.name)) {
      throw new Error(`${a.model}: has no input '${inp.name}' (inputs: ${session.inputNames.join(', ')})`);
    }
    const t = npy.read(inp.file);
    if (t.shape.length < 1) throw new Error(`${inp.file}: a scalar has no items to stack`);
    if (items >= 0 && t.shape[0] !== items) throw new Error(`${inp.file}: ${t.shape[0]} items, the other inputs have ${items}`);
    items = t.shape[0];
    stacks.set(inp.name, t);
  }
  const missing = session.inputNames.filter((n) => !stacks.has(n));
  if (missing.length) throw new Error(`${a.model}: missing --input for ${missing.map((n) => `'${n}'`).join(', ')}`);
  if (items < 1) throw new Error('the inputs hold no items');
  const batch = a.batch || items;

  const parts = new Map(session.outputNames.map((n) => [n, []]));
  let ms = 0;
  let runs = 0;
  for (let lo = 0; lo < items; lo += batch) {
    const hi = Math.min(items, lo + batch);
    const feeds = {};
    for (const [name, t] of stacks) feeds[name] = slice(ort, t, lo, hi);
    let res;
    try {
      res = await ortlib.timedRuns(session, feeds, 1, 0);
    } catch (e) {
      throw new Error(`${a.model}: run of items ${lo}..${hi - 1} failed (${e.message})`);
    }
    ms += res.latencies[0];
    runs++;
    for (const name of session.outputNames) {
      const o = res.outputs[name];
      if (o.dims.length < 1 || Number(o.dims[0]) !== hi - lo) {
        throw new Error(`${a.model}: output '${name}' has shape [${o.dims}] for a batch of ${hi - lo} (its first dimension is not the batch)`);
      }
      parts.get(name).push(o);
    }
  }

  fs.mkdirSync(a.outdir, { recursive: true });
  const outInfo = [];
  for (const name of session.outputNames) {
    const ps = parts.get(name);
    const type = ps[0].type;
    const rest = ps[0].dims.slice(1).map(Number);
    const per = rest.reduce((x, y) => x * y, 1);
    const all = new ps[0].data.constructor(items * per);
    let at = 0;
    for (const p of ps) {
      all.set(p.data, at);
      at += p.data.length;
    }
    const file = path.join(a.outdir, `${sanitize(name)}.npy`);
    npy.write(file, type, [items, ...rest], all);
    outInfo.push({ name, file, dtype: type, shape: [items, ...rest] });
  }
  console.log(JSON.stringify({
    model: a.model, items, batch, runs, threads: a.threads, ms: Math.round(ms * 1000) / 1000, outputs: outInfo,
  }));
}

main().catch((e) => {
  process.stderr.write(`run_items.js: ${e.message}\n`);
  process.exit(1);
});
