#!/usr/bin/env node
'use strict';
// Per-node times of ONNX Runtime (onnxruntime-node, 1 thread or THREADS=N, the reference
// session settings of tools/ort/ort.js) from its own profiler: the anchor to
// hold calq's per-node profile (`model:profile()`) against.
//
//   node bench/ort_nodes.js MODEL.onnx [--runs 200] [--skip 20] [--top 25]
//
// Prints the sum of per-node medians (STAT=min: the fastest run's; ms; the profiler
// adds some overhead to the whole run, not to the kernels it times), the time per operator type,
// then the slowest nodes with the shapes ORT ran them at (its NCHWc layout
// pads channels to multiples of 8 or 16). Inputs: a fixed pattern, the one
// bench/calq_nodes.lua feeds. In CPU time on a loaded host (the counterpart of
// CALQ_PROFILE_CLOCK=cpu): CALQ_CPUCLOCK=all LD_PRELOAD=BUILD/bench/cpuclock.so;
// bench/nodes_gap.py ranks the two engines' per-shape gaps.
const fs = require('fs');
const os = require('os');
const path = require('path');
const ortlib = require(path.join(__dirname, '..', 'tools', 'ort', 'ort'));

const USAGE = 'usage: node bench/ort_nodes.js MODEL.onnx [--runs 200] [--skip 20] [--top 25]';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function shapes(list) {
  return (list || []).map((t) => Object.values(t)[0].join('x')).join(' ');
}

async function main() {
  const a = { model: null, runs: 200, skip: 20, top: 25 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const num = () => {
      const v = argv[++i];
      if (!/^\d+$/.test(v || '')) throw new Error(`${k} wants a non-negative integer, got '${v}'`);
      return Number(v);
    };
    if (k === '--runs') a.runs = num();
    else if (k === '--skip') a.skip = num();
    else if (k === '--top') a.top = num();
    else if (k === '-h' || k === '--help') { console.log(USAGE); return; } else if (k.startsWith('-') || a.model) throw new Error(`unexpected '${k}'\n${USAGE}`);
    else a.model = k;
  }
  if (!a.model) throw new Error(`no model given\n${USAGE}`);
  if (a.runs <= a.skip) throw new Error(`--runs ${a.runs} must exceed --skip ${a.skip}`);
  const ort = ortlib.load();
  if (!fs.existsSync(a.model)) throw new Error(`${a.model}: no such model file`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calq-ort-nodes-'));
  try {
    const s = await ort.InferenceSession.create(a.model, {
      intraOpNumThreads: Number(process.env.THREADS || 1), interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all', logSeverityLevel: 3,
      enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
    });
    const feeds = {};
    for (const meta of s.inputMetadata) {
      if (meta.type !== 'float32') throw new Error(`${a.model}: input '${meta.name}' is ${meta.type}; only float32 inputs here`);
      const dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
      const n = dims.reduce((x, y) => x * y, 1);
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = (i % 97) / 97 - 0.5;
      feeds[meta.name] = new ort.Tensor('float32', v, dims);
    }
    for (let i = 0; i < a.runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const per = new Map();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const name = e.name.slice(0, -'_kernel_time'.length);
      if (!per.has(name)) per.set(name, { op: e.args.op_name, ins: shapes(e.args.input_type_shape), outs: shapes(e.args.output_type_shape), us: [] });
      per.get(name).us.push(e.dur);
    }
    const rows = [...per.entries()].map(([name, r]) => ({ name, ...r, med: (process.env.STAT === 'min' ? Math.min(...r.us.slice(a.skip)) : median(r.us.slice(a.skip))) / 1000 }));
    const byOp = new Map();
    for (const r of rows) byOp.set(r.op, (byOp.get(r.op) || 0) + r.med);
    const total = rows.reduce((x, r) => x + r.med, 0);
    console.log(`${path.basename(a.model)}: ORT per-node ${process.env.STAT === 'min' ? 'minima' : 'medians'} over runs ${a.skip + 1}-${a.runs}, ${process.env.THREADS || 1} thread(s); sum ${total.toFixed(3)} ms`);
    for (const [op, ms] of [...byOp.entries()].sort((x, y) => y[1] - x[1])) console.log(`  ${op.padEnd(24)} ${ms.toFixed(3)}`);
    rows.sort((x, y) => y.med - x.med);
    for (const r of rows.slice(0, a.top)) console.log(`${r.med.toFixed(3).padStart(8)} ${r.op.padEnd(14)} ${r.name.slice(0, 40).padEnd(40)} ${r.ins} -> ${r.outs}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`ort_nodes.js: ${e.message}\n`);
  process.exit(1);
});
