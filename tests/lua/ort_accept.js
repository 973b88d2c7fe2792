// ort_accept.js ORIG_DIR COPY_DIR: for every NAME.onnx in COPY_DIR, create an
// ONNX Runtime session for ORIG_DIR/NAME/model.onnx and for the copy. Prints
// one line per model whose copy fails while the original loads, then a
// summary "accepted A, both refused B, copy refused C"; exits 1 when C > 0.
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function ok(p) {
  try { await ort.InferenceSession.create(p, { logSeverityLevel: 4 }); return true; }
  catch (e) { return e.message.split('\n')[0]; }
}

(async () => {
  const [orig, copies] = process.argv.slice(2);
  let a = 0, both = 0, bad = 0;
  for (const f of fs.readdirSync(copies).filter((x) => x.endsWith('.onnx')).sort()) {
    const name = f.replace(/\.onnx$/, '');
    const o = await ok(path.join(orig, name, 'model.onnx'));
    const c = await ok(path.join(copies, f));
    if (c === true) a++;
    else if (o !== true) both++;
    else { bad++; console.log(`${name}: copy refused: ${c}`); }
  }
  console.log(`accepted ${a}, both refused ${both}, copy refused ${bad}`);
  process.exit(bad ? 1 : 0);
})();
