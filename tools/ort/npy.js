'use strict';
// Minimal .npy reader/writer (format versions 1.0-3.0, C order, little endian).
//
//   const npy = require('./npy');
//   const { dtype, shape, data } = npy.read('x.npy');   // data: a typed array
//   npy.write('y.npy', 'float32', [2, 3], new Float32Array(6));
//
// dtype names follow onnxruntime's tensor types. float16 data travel as raw Uint16
// bit patterns, int64/uint64 as BigInt64Array/BigUint64Array, bool as Uint8Array (0/1).
// Errors are thrown as Error("<file>: <what>").

const fs = require('fs');

// npy descr (without byte-order char) <-> ORT type, typed array constructor
const TYPES = [
  { descr: 'f4', type: 'float32', Ctor: Float32Array },
  { descr: 'f8', type: 'float64', Ctor: Float64Array },
  { descr: 'f2', type: 'float16', Ctor: Uint16Array },
  { descr: 'i8', type: 'int64', Ctor: BigInt64Array },
  { descr: 'u8', type: 'uint64', Ctor: BigUint64Array },
  { descr: 'i4', type: 'int32', Ctor: Int32Array },
  { descr: 'u4', type: 'uint32', Ctor: Uint32Array },
  { descr: 'i2', type: 'int16', Ctor: Int16Array },
  { descr: 'u2', type: 'uint16', Ctor: Uint16Array },
  { descr: 'i1', type: 'int8', Ctor: Int8Array },
  { descr: 'u1', type: 'uint8', Ctor: Uint8Array },
  { descr: 'b1', type: 'bool', Ctor: Uint8Array },
];
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const MAX_ELEMS = 2 ** 31; // refuse absurd shapes before allocating

function fail(file, what) {
  return new Error(`${file}: ${what}`);
}

function byType(type) {
  const t = TYPES.find((x) => x.type === type);
  if (!t) throw new Error(`npy: unsupported tensor type '${type}'`);
  return t;
}

function parseHeader(file, text) {
  // The header is a Python dict literal, e.g.
  // {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw fail(file, `bad header dict ${JSON.stringify(text.trim())}`);
  if (fortran[1] === 'True') throw fail(file, 'fortran_order arrays are not supported');
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+$/.test(s)) throw fail(file, `bad shape entry '${s}' in header`);
    return Number(s);
  });
  let order = descr[1][0];
  let code = descr[1].slice(1);
  if (!'<>|='.includes(order)) { code = descr[1]; order = '|'; }
  const t = TYPES.find((x) => x.descr === code);
  if (!t) throw fail(file, `unsupported dtype '${descr[1]}'`);
  if (order === '>' && t.Ctor.BYTES_PER_ELEMENT > 1) throw fail(file, `big-endian dtype '${descr[1]}' is not supported`);
  return { t, dims };
}

function decode(buf, file = '<buffer>') {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw fail(file, 'not a .npy file (bad magic at byte 0)');
  const major = buf[6];
  let hlen;
  let off;
  if (major === 1) { hlen = buf.readUInt16LE(8); off = 10; } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw fail(file, 'truncated header length at byte 8');
    hlen = buf.readUInt32LE(8); off = 12;
  } else throw fail(file, `unsupported .npy version ${major}.${buf[7]} at byte 6`);
  if (off + hlen > buf.length) throw fail(file, `header of ${hlen} bytes at byte ${off} runs past the end (${buf.length} bytes)`);
  const text = buf.subarray(off, off + hlen).toString(major === 3 ? 'utf8' : 'latin1');
  const { t, dims } = parseHeader(file, text);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > MAX_ELEMS) throw fail(file, `shape [${dims}] has ${n} elements, more than ${MAX_ELEMS}`);
  const data0 = off + hlen;
  const nbytes = n * t.Ctor.BYTES_PER_ELEMENT;
  if (buf.length - data0 !== nbytes) throw fail(file, `data at byte ${data0} is ${buf.length - data0} bytes, shape [${dims}] of ${t.type} needs ${nbytes}`);
  const data = new t.Ctor(n);
  // copy so alignment never matters
  Buffer.from(data.buffer, data.byteOffset, nbytes).set(buf.subarray(data0, data0 + nbytes));
  return { dtype: t.type, shape: dims, data };
}

function read(file) {
  let buf;
  try { buf = fs.readFileSync(file); } catch (e) { throw fail(file, `cannot read (${e.code || e.message})`); }
  return decode(buf, file);
}

function encode(type, shape, data) {
  const t = byType(type);
  const n = shape.reduce((a, b) => a * Number(b), 1);
  if (data.length !== n) throw new Error(`npy: ${data.length} elements for shape [${shape}] (${n})`);
  const order = t.Ctor.BYTES_PER_ELEMENT === 1 ? '|' : '<';
  const dims = shape.map(Number);
  const shp = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let head = `{'descr': '${order}${t.descr}', 'fortran_order': False, 'shape': ${shp}, }`;
  const pad = 64 - ((10 + head.length + 1) % 64);
  head += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(head.length, 8);
  let arr = data;
  if (!(arr instanceof t.Ctor)) arr = t.Ctor.from(arr);
  const body = Buffer.from(arr.buffer, arr.byteOffset, n * t.Ctor.BYTES_PER_ELEMENT);
  return Buffer.concat([pre, Buffer.from(head, 'latin1'), body]);
}

function write(file, type, shape, data) {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, encode(type, shape, data));
  fs.renameSync(tmp, file);
}

module.exports = { read, write, decode, encode, TYPES };
