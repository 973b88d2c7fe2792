#!/usr/bin/python3
"""PyTorch's own post-training quantization of the Fashion-MNIST classifier: the peer.

    /usr/bin/python3 bench/fmnist_torch_ptq.py [--calib FILE.npy] [--export OUT.onnx] [--json]

- The classifier: models/fashion_mnist/train.py's architecture with the weights of
  models/fashion_mnist/fmnist_cnn.onnx (its initializers, read with a minimal protobuf
  walk: no onnx package needed). Its fp32 top-1 is checked against the README's 91.73 %.
- Calibration: 1,000 training images, a seeded uniform draw without replacement
  (numpy default_rng(0).choice(60000, 1000), sorted). The images are written, x / 255
  as float32 [1000, 1, 28, 28], to $CALQ_CACHE/fmnist/calib_uniform1000.npy (their
  indices to calib_uniform1000_idx.npy) so that calq calibrates on the very same file
  (`calq quantize ... --calib $CALQ_CACHE/fmnist/calib_uniform1000.npy`). A class-
  balanced set (100 a class, same seed) is written next to it, calib_balanced1000.npy,
  for the uniform-against-balanced experiment; --seeds N adds the sets of seeds 1 .. N-1
  (*_s<k>.npy). --calib FILE calibrates the peer on another .npy.
- Quantization, torch 1.13, engine onednn, its default qconfig: HistogramObserver for
  activations (u8, full range), per-channel symmetric s8 min-max weights:
  * FX graph mode (prepare_fx / convert_fx with get_default_qconfig_mapping("onednn"):
    Conv+BN+ReLU and Linear+ReLU fused): the peer's figure;
  * eager mode with Conv+BN+ReLU fused and Linear, ReLU apart (torch 1.13 cannot export
    a fused quantized Linear+ReLU to ONNX): the model --export writes, a QDQ ONNX file
    (QuantizeLinear / DequantizeLinear around float Conv, Gemm, Relu, MaxPool).
- Evaluation: top-1 on all 10,000 test images, fp32 and int8.
Prints the figures (and one JSON line with --json). One thread.
"""
import argparse
import json
import os
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "models", "fashion_mnist"), os.path.join(REPO, "tools", "ort")]
from fmnist_data import load, normalize  # noqa: E402
from onnx_ops import fields  # noqa: E402
from train import Net  # noqa: E402

MODEL = os.path.join(REPO, "models", "fashion_mnist", "fmnist_cnn.onnx")
SEED = 0
NCALIB = 1000
FP32_CORRECT = 9173  # models/fashion_mnist/README.md


def initializers(path):
    """name -> float32 array of every initializer of an ONNX model (raw_data or float_data)."""
    with open(path, "rb") as f:
        buf = f.read()
    graph = next((v for fno, wt, v in fields(buf, path) if fno == 7 and wt == 2), None)
    if graph is None:
        raise SystemExit(f"{path}: no graph")
    out = {}
    for fno, wt, v in fields(graph, path):
        if fno != 5 or wt != 2:  # GraphProto.initializer
            continue
        dims, dtype, name, raw, floats = [], None, None, None, []
        for k, kwt, x in fields(v, path):
            if k == 1:  # dims: packed or not
                if kwt == 2:
                    dims += list(varints(x))
                else:
                    dims.append(x)
            elif k == 2:
                dtype = x
            elif k == 8:
                name = x.decode()
            elif k == 9:
                raw = x
            elif k == 4 and kwt == 2:
                floats.append(np.frombuffer(x, "<f4"))
        if dtype != 1:
            raise SystemExit(f"{path}: initializer {name}: data type {dtype}, expected 1 (float)")
        arr = np.frombuffer(raw, "<f4") if raw is not None else np.concatenate(floats or [np.zeros(0, "<f4")])
        if arr.size != int(np.prod(dims)):
            raise SystemExit(f"{path}: initializer {name}: {arr.size} values for dims {dims}")
        out[name] = arr.reshape(dims).copy()
    return out


def varints(b):
    v = shift = 0
    for byte in b:
        v |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            yield v
            v = shift = 0


def load_net():
    net = Net().eval()
    w = initializers(MODEL)
    state = net.state_dict()
    missing = [k for k in state if k not in w and not k.endswith("num_batches_tracked")]
    extra = [k for k in w if k not in state]
    if missing or extra:
        raise SystemExit(f"{MODEL}: initializers do not match train.py's Net (missing {missing}, extra {extra})")
    net.load_state_dict({k: torch.from_numpy(w[k]) if k in w else v for k, v in state.items()})
    return net


def top1(model, x, y, batch=1000):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(torch.from_numpy(x[i:i + batch]))
            correct += int((out.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct


def write_npy(path, arr):
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def calibration_sets(cache, seeds=1):
    """Write (if absent) the uniform and class-balanced 1,000-image sets of seeds
    0 .. seeds-1 (seed 0 unsuffixed, seed k as *_s<k>.npy); return seed 0's uniform path."""
    d = os.path.join(cache, "fmnist")
    os.makedirs(d, exist_ok=True)
    xtr, ytr = load("train")
    for seed in range(seeds):
        uni = np.sort(np.random.default_rng(seed).choice(len(xtr), NCALIB, replace=False))
        rng = np.random.default_rng(seed)
        bal = np.sort(np.concatenate([rng.choice(np.flatnonzero(ytr == c), NCALIB // 10, replace=False)
                                      for c in range(10)]))
        sfx = f"_s{seed}" if seed else ""
        for name, idx in (("calib_uniform1000" + sfx, uni), ("calib_balanced1000" + sfx, bal)):
            path = os.path.join(d, name + ".npy")
            if not os.path.isfile(path):
                write_npy(path, normalize(xtr[idx]))
                write_npy(os.path.join(d, name + "_idx.npy"), idx.astype(np.int64))
    return os.path.join(d, "calib_uniform1000.npy")


class Eager(nn.Module):
    """Net between QuantStub and DeQuantStub, Conv+BN+ReLU fused (Linear, ReLU apart)."""

    def __init__(self, net):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.net = net
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.net(self.quant(x)))


def quantize_fx(net, calib, qconfig_mapping):
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    p = prepare_fx(net, qconfig_mapping, torch.zeros(1, 1, 28, 28))
    with torch.no_grad():
        for i in range(0, len(calib), 100):
            p(torch.from_numpy(calib[i:i + 100]))
    return convert_fx(p)


def quantize_eager(net, calib, qconfig):
    from torch.ao.quantization import convert, fuse_modules, prepare
    m = Eager(net).eval()
    for i in range(3):
        fuse_modules(m.net.features[i], [["0", "1", "2"]], inplace=True)
    m.qconfig = qconfig
    prepare(m, inplace=True)
    with torch.no_grad():
        for i in range(0, len(calib), 100):
            m(torch.from_numpy(calib[i:i + 100]))
    return convert(m, inplace=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=os.environ.get("CALQ_CACHE", os.path.join(REPO, ".cache")))
    ap.add_argument("--calib", help="calibration inputs .npy [N,1,28,28] (default: the uniform 1,000)")
    ap.add_argument("--export", help="write the eager int8 model as a QDQ ONNX file here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seeds", type=int, default=1,
                    help="also write the calibration sets of seeds 1 .. N-1 (for bench/fmnist_grid.lua)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "onednn"
    from torch.ao.quantization import get_default_qconfig, get_default_qconfig_mapping

    t0 = time.time()
    uniform0 = calibration_sets(a.cache, max(1, a.seeds))
    calib_path = a.calib or uniform0
    calib = np.load(calib_path).astype(np.float32)
    if calib.ndim != 4 or calib.shape[1:] != (1, 28, 28):
        raise SystemExit(f"{calib_path}: shape {calib.shape}, expected [N, 1, 28, 28]")
    xte, yte = load("test")
    xte = normalize(xte)

    fp32 = top1(load_net(), xte, yte)
    if fp32 != FP32_CORRECT:
        raise SystemExit(f"fp32 top-1 {fp32}/10000, expected {FP32_CORRECT} (models/fashion_mnist/README.md)")
    fx = quantize_fx(load_net(), calib, get_default_qconfig_mapping("onednn"))
    fx_correct = top1(fx, xte, yte)
    eager = quantize_eager(load_net(), calib, get_default_qconfig("onednn"))
    eager_correct = top1(eager, xte, yte)

    if a.export:
        tmp = a.export + ".tmp"
        with torch.no_grad():
            torch.onnx.export(eager, torch.from_numpy(xte[:1]), tmp, opset_version=13,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        os.replace(tmp, a.export)

    res = {"torch": torch.__version__, "engine": torch.backends.quantized.engine,
           "calib": calib_path, "calib_images": int(len(calib)), "test_images": int(len(xte)),
           "fp32_top1": fp32 / len(xte), "int8_fx_top1": fx_correct / len(xte),
           "int8_eager_top1": eager_correct / len(xte), "seconds": round(time.time() - t0, 1)}
    if a.export:
        res["export"] = a.export
    print(f"PyTorch {torch.__version__} PTQ (onednn, HistogramObserver, per-channel s8 weights), "
          f"{len(calib)} calibration images from {calib_path}")
    print(f"  fp32                          top-1 {100 * fp32 / len(xte):.2f} % ({fp32}/{len(xte)})")
    print(f"  int8 FX graph mode            top-1 {100 * fx_correct / len(xte):.2f} % ({fx_correct}/{len(xte)})")
    print(f"  int8 eager (Linear+ReLU apart) top-1 {100 * eager_correct / len(xte):.2f} % "
          f"({eager_correct}/{len(xte)})" + (f" -> {a.export}" if a.export else ""))
    if a.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
