'use strict';
// Locate onnxruntime-node under $CALQ_CACHE/ort/node_modules (CALQ_CACHE defaults to
// <repo>/.cache) and open sessions with calq's reference settings.
const path = require('path');
const fs = require('fs');

const REPO = path.resolve(__dirname, '..', '..');

function cacheDir() {
  return process.env.CALQ_CACHE || path.join(REPO, '.cache');
}

function load() {
  const dir = path.join(cacheDir(), 'ort', 'node_modules', 'onnxruntime-node');
  if (!fs.existsSync(dir)) {
    throw new Error(`${dir}: onnxruntime-node not found (run tools/bootstrap.sh or set CALQ_CACHE)`);
  }
  return require(dir);
}

async function open(ort, model, threads) {
  if (!fs.existsSync(model)) throw new Error(`${model}: no such model file`);
  try {
    return await ort.InferenceSession.create(model, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3, // errors only: the barracuda models warn about unused initializers
    });
  } catch (e) {
    throw new Error(`${model}: onnxruntime cannot load it (${e.message})`);
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

// Run `repeat` timed runs after `warmup` untimed ones; returns { outputs, latencies }.
async function timedRuns(session, feeds, repeat, warmup) {
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const lat = [];
  let outputs = null;
  for (let i = 0; i < repeat; i++) {
    const t0 = nowMs();
    outputs = await session.run(feeds);
    lat.push(nowMs() - t0);
  }
  return { outputs, latencies: lat };
}

module.exports = { load, open, median, timedRuns, cacheDir, REPO };
