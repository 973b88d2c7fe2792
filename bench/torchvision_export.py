#!/usr/bin/python3
"""Export ResNet-18 and MobileNetV2 (torchvision architectures, random weights) to ONNX.

    /usr/bin/python3 bench/torchvision_export.py [--cache DIR] [--force]

Writes $CALQ_CACHE/models/{resnet18,mobilenet_v2}.onnx (CALQ_CACHE defaults to
<repo>/.cache): weights from torch.manual_seed(0) (no pretrained weights offline),
eval mode, opset 13, input "input" [1,3,224,224], output "output" [1,1000], constant
folding on (BatchNorm folded into Conv by the exporter, as deployed models are).
Idempotent: a model is skipped when its file exists and its .stamp names the same
torch/torchvision versions and settings; --force rebuilds.
"""
import argparse
import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import torch  # noqa: E402

try:
    import torchvision  # noqa: E402
except ImportError:
    sys.exit("torchvision_export: python3-torchvision is missing (run tools/bootstrap.sh)")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 0
OPSET = 13
MODELS = {"resnet18": torchvision.models.resnet18, "mobilenet_v2": torchvision.models.mobilenet_v2}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=os.environ.get("CALQ_CACHE", os.path.join(REPO, ".cache")))
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    outdir = os.path.join(a.cache, "models")
    os.makedirs(outdir, exist_ok=True)
    for name, ctor in MODELS.items():
        path = os.path.join(outdir, name + ".onnx")
        stamp = (f"{name} torch {torch.__version__} torchvision {torchvision.__version__} "
                 f"seed {SEED} opset {OPSET} input 1x3x224x224\n")
        try:
            with open(path + ".stamp") as f:
                same = f.read() == stamp
        except OSError:
            same = False
        if same and os.path.isfile(path) and not a.force:
            print(f"torchvision_export: {path}: up to date")
            continue
        torch.manual_seed(SEED)
        model = ctor(weights=None).eval()
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(model, torch.randn(1, 3, 224, 224), tmp, opset_version=OPSET,
                              input_names=["input"], output_names=["output"],
                              do_constant_folding=True)
        os.replace(tmp, path)
        with open(path + ".stamp.tmp", "w") as f:
            f.write(stamp)
        os.replace(path + ".stamp.tmp", path + ".stamp")
        print(f"torchvision_export: {path} ({os.path.getsize(path)} B)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
