#!/usr/bin/env node
'use strict';
// ONNX Runtime on the Relu chains of bench/chain.c: the time to open a session
// (parse, optimise, plan) and run it once, as calq's load_plan_run_ms measures.
//
//   node bench/chain_ort.js CHAIN.onnx ... [--threads 1]
//
// The chain's input is 'x' [1, 16] f32 (values -8..7). One JSON line per model:
// open_ms, run1_ms, run2_ms, open_run_ms (wall) and open_run_cpu_ms (the
// process's user + system CPU over the same interval).
const path = require('path');
const ortlib = require(path.join(__dirname, '..', 'tools', 'ort', 'ort'));

async function main() {
  const argv = process.argv.slice(2);
  let threads = 1;
  const models = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threads') threads = Number(argv[++i]);
    else if (argv[i].startsWith('-')) throw new Error(`unknown option '${argv[i]}'`);
    else models.push(argv[i]);
  }
  if (!models.length) throw new Error('usage: node bench/chain_ort.js CHAIN.onnx ... [--threads 1]');
  const ort = ortlib.load();
  for (const model of models) {
    const x = new Float32Array(16);
    for (let i = 0; i < 16; i++) x[i] = i - 8;
    const feeds = { x: new ort.Tensor('float32', x, [1, 16]) };
    const c0 = process.cpuUsage();
    const t0 = Number(process.hrtime.bigint()) / 1e6;
    const s = await ortlib.open(ort, model, threads);
    const t1 = Number(process.hrtime.bigint()) / 1e6;
    const out = await s.run(feeds);
    const t2 = Number(process.hrtime.bigint()) / 1e6;
    const c = process.cpuUsage(c0);
    await s.run(feeds);
    const t3 = Number(process.hrtime.bigint()) / 1e6;
    const y = out[s.outputNames[0]].data;
    console.log(JSON.stringify({
      model: path.basename(model), open_ms: +(t1 - t0).toFixed(1), run1_ms: +(t2 - t1).toFixed(1),
      run2_ms: +(t3 - t2).toFixed(1), open_run_ms: +(t2 - t0).toFixed(1),
      open_run_cpu_ms: +((c.user + c.system) / 1000).toFixed(1), ok: y[0] === 0 && y[15] === 7,
    }));
    await s.release();
  }
}

main().catch((e) => { console.error(`chain_ort: ${e.message}`); process.exit(1); });
