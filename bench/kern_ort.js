// Time single-Conv ONNX models with onnxruntime-node, one thread.
// stdin: lines "<model path>\t<layer name>\t<c_in>\t<h>\t<w>"; argv[2]: seconds per model.
// stdout: lines "ort\t<layer name>\t<best ms>".
const ort = require('onnxruntime-node');
const fs = require('fs');
const budget = parseFloat(process.argv[2] || '0.25');
(async () => {
  const lines = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.length);
  for (const line of lines) {
    const [path, name, cs, hs, ws] = line.split('\t');
    const sess = await ort.InferenceSession.create(path, {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all' });
    const c = parseInt(cs, 10), h = parseInt(hs, 10), w = parseInt(ws, 10);
    const x = new ort.Tensor('float32', new Float32Array(c * h * w).fill(0.5), [1, c, h, w]);
    await sess.run({ x });
    let best = 1e30;
    const end = process.hrtime.bigint() + BigInt(Math.round(budget * 1e9));
    for (let i = 0; i < 3 || process.hrtime.bigint() < end; i++) {
      const t0 = process.hrtime.bigint();
      await sess.run({ x });
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      if (dt < best) best = dt;
    }
    console.log(`ort\t${name}\t${best.toFixed(3)}`);
  }
})().catch((e) => { console.error(e); process.exit(1); });
