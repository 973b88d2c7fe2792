#!/usr/bin/python3
"""Train a small Fashion-MNIST CNN and export it to ONNX with BatchNormalization kept.

Run:  /usr/bin/python3 models/fashion_mnist/train.py [--epochs 8] [--out DIR]   (about 6 min on one core)

Data: /usr/share/datasets/fashion-mnist/*.gz (Debian dataset-fashion-mnist), read
directly in idx format. Input normalisation: x / 255 (no mean/std), NCHW [N,1,28,28].
The graph keeps its BatchNormalization nodes (export with TrainingMode.PRESERVE on a
model in eval mode), so that calq has to fold them itself.
"""
import argparse
import os
import sys
import time

# one core: set before numpy/torch load their thread pools
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "..", "tools", "ort")]
import onnx_ops  # noqa: E402  (lists the exported nodes without the onnx package)
from fmnist_data import load, normalize  # noqa: E402


class Net(nn.Module):
    # input (N,1,28,28) -> logits (N,10); about 98k parameters
    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

        self.features = nn.Sequential(block(1, 16), block(16, 32), block(32, 64))  # 28->14->7->3
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(),
                                  nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.features(x))


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(torch.from_numpy(x[i:i + batch]))
            correct += int((out.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rng = np.random.default_rng(args.seed)

    xtr, ytr = load("train")
    xte, yte = load("test")
    xtr, xte = normalize(xtr), normalize(xte)
    ytr64 = ytr.astype(np.int64)

    model = Net()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"params {nparams}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    lossf = nn.CrossEntropyLoss()
    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = rng.permutation(len(xtr))
        total = 0.0
        for i in range(0, len(perm), args.batch):
            idx = perm[i:i + args.batch]
            xb = torch.from_numpy(xtr[idx])
            yb = torch.from_numpy(ytr64[idx])
            opt.zero_grad()
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        sched.step()
        acc = accuracy(model, xte, yte)
        print(f"epoch {ep + 1}/{args.epochs} loss {total / len(xtr):.4f} "
              f"test_acc {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)

    model.eval()
    acc = accuracy(model, xte, yte)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "fmnist_cnn.onnx")
    tmp = path + ".tmp"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    ops = [op for op, _ in onnx_ops.model_info(tmp)["nodes"]]
    if ops.count("BatchNormalization") != 3:
        raise SystemExit(f"train.py: {tmp}: expected 3 BatchNormalization nodes, got ops {ops}")
    os.replace(tmp, path)
    print("ops: " + " ".join(ops))
    print(f"test_accuracy {acc:.4f} ({int(round(acc * len(xte)))}/{len(xte)}) "
          f"train_time {time.time() - t0:.0f} s -> {path} ({os.path.getsize(path)} B)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
