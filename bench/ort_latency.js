#!/usr/bin/env node
'use strict';
// ONNX Runtime fp32 latency of one or more models on random inputs.
//
//   node bench/ort_latency.js MODEL.onnx ... [--repeat 50] [--warmup 5] [--threads 1] [--batch 1]
//
// Inputs come from the model's metadata (dynamic dimensions become --batch), uniform
// in [-1, 1) from a fixed-seed generator (integer inputs: zeros). Each model is timed
// after its warm-up runs; one JSON line per model (median, min, p90 in ms, and the
// ratio of its median to the first model's: the anchor measured in the same run).
const path = require('path');
const ortlib = require(path.join(__dirname, '..', 'tools', 'ort', 'ort'));

const USAGE = 'usage: node bench/ort_latency.js MODEL.onnx ... [--repeat 50] [--warmup 5] [--threads 1] [--batch 1]';

function posInt(opt, v, min) {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new Error(`${opt} wants an integer >= ${min}, got '${v}'`);
  return Number(v);
}

function rng(seed) { // mulberry32
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInput(ort, meta, batch, rnd) {
  const dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : batch));
  const n = dims.reduce((a, b) => a * b, 1);
  switch (meta.type) {
    case 'float32': { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = rnd() * 2 - 1; return new ort.Tensor('float32', a, dims); }
    case 'int64': return new ort.Tensor('int64', new BigInt64Array(n), dims);
    case 'int32': return new ort.Tensor('int32', new Int32Array(n), dims);
    case 'uint8': return new ort.Tensor('uint8', new Uint8Array(n), dims);
    default: throw new Error(`input '${meta.name}' has type ${meta.type}, not supported here`);
  }
}

async function main() {
  const a = { models: [], repeat: 50, warmup: 5, threads: 1, batch: 1 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--repeat') a.repeat = posInt(k, argv[++i], 1);
    else if (k === '--warmup') a.warmup = posInt(k, argv[++i], 0);
    else if (k === '--threads') a.threads = posInt(k, argv[++i], 1);
    else if (k === '--batch') a.batch = posInt(k, argv[++i], 1);
    else if (k === '-h' || k === '--help') { console.log(USAGE); return; } else if (k.startsWith('-')) throw new Error(`unknown option '${k}'\n${USAGE}`);
    else a.models.push(k);
  }
  if (!a.models.length) throw new Error(`no model given\n${USAGE}`);
  const ort = ortlib.load();
  let anchor = null;
  for (const model of a.models) {
    const s = await ortlib.open(ort, model, a.threads);
    const rnd = rng(1234);
    const feeds = {};
    const shapes = {};
    for (const meta of s.inputMetadata) {
      feeds[meta.name] = randomInput(ort, meta, a.batch, rnd);
      shapes[meta.name] = feeds[meta.name].dims;
    }
    const { latencies } = await ortlib.timedRuns(s, feeds, a.repeat, a.warmup);
    const sorted = [...latencies].sort((x, y) => x - y);
    const med = ortlib.median(latencies);
    if (anchor === null) anchor = med;
    const r3 = (x) => Math.round(x * 1000) / 1000;
    console.log(JSON.stringify({
      model: path.basename(model), threads: a.threads, repeat: a.repeat, warmup: a.warmup, inputs: shapes,
      median_ms: r3(med), min_ms: r3(sorted[0]), p90_ms: r3(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]),
      ratio_to_first: r3(med / anchor),
    }));
    await s.release();
  }
}

main().catch((e) => {
  process.stderr.write(`ort_latency.js: ${e.message}\n`);
  process.exit(1);
});
