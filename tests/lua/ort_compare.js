// ort_compare.js A.onnx B.onnx: run both models in ONNX Runtime on all-zero
// inputs (symbolic dimensions set to 1) and compare every output bit for bit.
// Prints "same N outputs" and exits 0, or prints the difference and exits 1.
// NODE_PATH must reach onnxruntime-node.
const ort = require('onnxruntime-node');

function zeros(meta) {
  const dims = meta.dims.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  const types = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array };
  if (meta.type === 'int64') return new ort.Tensor('int64', new BigInt64Array(n), dims);
  return new ort.Tensor(meta.type, new (types[meta.type] || Float32Array)(n), dims);
}

async function run(path) {
  const s = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
  const feeds = {};
  const meta = s.inputMetadata;
  s.inputNames.forEach((name, i) => {
    const m = Array.isArray(meta) ? meta[i] : meta && meta[name];
    feeds[name] = m && m.shape ? zeros({ dims: m.shape, type: m.type || 'float32' })
                               : null;
  });
  if (Object.values(feeds).some((v) => v === null)) {
    // Old onnxruntime-node: no metadata; BlazeFace-like single NHWC/NCHW input.
    throw new Error('no input metadata in this onnxruntime-node');
  }
  return s.run(feeds);
}

(async () => {
  const [a, b] = process.argv.slice(2);
  const ra = await run(a), rb = await run(b);
  const names = Object.keys(ra);
  for (const k of names) {
    const x = ra[k].data, y = rb[k] && rb[k].data;
    if (!y || x.length !== y.length) { console.log(`output ${k}: shapes differ`); process.exit(1); }
    const bx = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    const by = Buffer.from(y.buffer, y.byteOffset, y.byteLength);
    if (!bx.equals(by)) { console.log(`output ${k}: values differ`); process.exit(1); }
  }
  console.log(`same ${names.length} outputs`);
})().catch((e) => { console.log(`error: ${e.message}`); process.exit(2); });
