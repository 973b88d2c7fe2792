#!/usr/bin/env node
'use strict';
// Run many (model, inputs) jobs with one onnxruntime session per model.
//
//   node tools/ort/run_batch.js JOBS.json RESULTS.json
//
// JOBS.json: { "threads": 1, "jobs": [ { "model": "m.onnx",
//              "inputs": { "input:0": "x.npy" }, "outdir": "dir" }, ... ] }
// Each job writes every output as outdir/<sanitized name>.npy (as run.js does).
// RESULTS.json: { "ort_version": ..., "results": [ { "model", "median_ms",
//   "inputs": [{name, file, dtype, shape}], "outputs": [{name, file, dtype, shape}] } ] }
// in job order. Exit 1 with "run_batch.js: ..." on the first error.
const fs = require('fs');
const path = require('path');
const npy = require('./npy');
const ortlib = require('./ort');
const { sanitize } = require('./names');

async function main() {
  const [jobsFile, outFile] = process.argv.slice(2);
  if (!jobsFile || !outFile) throw new Error('usage: node tools/ort/run_batch.js JOBS.json RESULTS.json');
  let spec;
  try { spec = JSON.parse(fs.readFileSync(jobsFile, 'utf8')); } catch (e) { throw new Error(`${jobsFile}: ${e.message}`); }
  if (!spec || !Array.isArray(spec.jobs)) throw new Error(`${jobsFile}: no "jobs" array`);
  const threads = spec.threads || 1;
  const ort = ortlib.load();
  const sessions = new Map();
  const results = [];
  for (const [i, job] of spec.jobs.entries()) {
    const where = `${jobsFile}: job ${i}`;
    if (!sessions.has(job.model)) sessions.set(job.model, await ortlib.open(ort, job.model, threads));
    const s = sessions.get(job.model);
    const feeds = {};
    const inInfo = [];
    for (const name of s.inputNames) {
      const file = job.inputs && job.inputs[name];
      if (!file) throw new Error(`${where}: missing input '${name}' for ${job.model}`);
      const t = npy.read(file);
      feeds[name] = new ort.Tensor(t.dtype, t.data, t.shape);
      inInfo.push({ name, file, dtype: t.dtype, shape: t.shape });
    }
    for (const name of Object.keys(job.inputs || {})) {
      if (!s.inputNames.includes(name)) throw new Error(`${where}: ${job.model} has no input '${name}'`);
    }
    let res;
    try { res = await ortlib.timedRuns(s, feeds, job.repeat || 1, 0); } catch (e) { throw new Error(`${where}: run failed (${e.message})`); }
    fs.mkdirSync(job.outdir, { recursive: true });
    const outInfo = [];
    for (const name of s.outputNames) {
      const t = res.outputs[name];
      const file = path.join(job.outdir, `${sanitize(name)}.npy`);
      npy.write(file, t.type, t.dims, t.data);
      outInfo.push({ name, file, dtype: t.type, shape: t.dims.map(Number) });
    }
    results.push({ model: job.model, median_ms: ortlib.median(res.latencies), inputs: inInfo, outputs: outInfo });
  }
  const version = require(path.join(ortlib.cacheDir(), 'ort', 'node_modules', 'onnxruntime-node', 'package.json')).version;
  const tmp = `${outFile}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ ort_version: version, threads, results }, null, 1)}\n`);
  fs.renameSync(tmp, outFile);
}

main().catch((e) => {
  process.stderr.write(`run_batch.js: ${e.message}\n`);
  process.exit(1);
});
