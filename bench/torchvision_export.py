#!/usr/bin/python3
"""Export the fp32 speed zoo (torchvision architectures, random weights) to ONNX.

    /usr/bin/python3 bench/torchvision_export.py [--cache DIR] [--force] [--list] [NAME ...]

Writes $CALQ_CACHE/models/NAME.onnx (CALQ_CACHE defaults to <repo>/.cache) for every
model of the zoo, or only the NAMEs given; --list prints the names with their input
shapes and exits. Weights from torch.manual_seed(0) (no pretrained weights offline),
eval mode, input "input", output "output", constant folding on (BatchNorm folded into
Conv by the exporter, as deployed models are). Classifiers take [1,3,224,224] and give
[1,1000]; the segmentation model (LRASPP-MobileNetV3-Large, 21 classes, bilinear
upsampling) takes [1,3,320,320] (520x520, torchvision's training size, would make the
zoo's run mostly this one model); the U-Net (built here: ConvTranspose and nearest
Resize in its decoder, 2 classes) takes [1,3,224,224]. ResNet-18 and MobileNetV2 stay
at opset 13 (their files and stamps as before); the others are opset 17.
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
tvm = torchvision.models


class OutOnly(torch.nn.Module):
    """A torchvision segmentation model's dict output reduced to its 'out' tensor."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)["out"]


def conv_block(cin, cout):
    return torch.nn.Sequential(
        torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False), torch.nn.BatchNorm2d(cout),
        torch.nn.ReLU(inplace=True),
        torch.nn.Conv2d(cout, cout, 3, padding=1, bias=False), torch.nn.BatchNorm2d(cout),
        torch.nn.ReLU(inplace=True))


class UNet(torch.nn.Module):
    """A small U-Net: 4 levels down by MaxPool (16..128 channels, a 256-channel
    bottleneck), up by ConvTranspose 2x2/2 on the two deep levels and by nearest
    x2 Resize + 1x1 Conv on the two shallow ones, skip connections by Concat."""

    def __init__(self, cin=3, classes=2, w=(16, 32, 64, 128, 256)):
        super().__init__()
        self.down = torch.nn.ModuleList(
            [conv_block(cin if i == 0 else w[i - 1], w[i]) for i in range(len(w))])
        self.pool = torch.nn.MaxPool2d(2)
        self.up = torch.nn.ModuleList()
        self.dec = torch.nn.ModuleList()
        for i in range(len(w) - 1, 0, -1):
            if i >= len(w) - 2:
                self.up.append(torch.nn.ConvTranspose2d(w[i], w[i - 1], 2, stride=2))
            else:
                self.up.append(torch.nn.Sequential(
                    torch.nn.Upsample(scale_factor=2, mode="nearest"),
                    torch.nn.Conv2d(w[i], w[i - 1], 1)))
            self.dec.append(conv_block(2 * w[i - 1], w[i - 1]))
        self.head = torch.nn.Conv2d(w[0], classes, 1)

    def forward(self, x):
        skips = []
        for i, d in enumerate(self.down):
            x = d(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], 1))
        return self.head(x)


# name: (constructor, input side, opset)
MODELS = {
    "resnet18": (lambda: tvm.resnet18(weights=None), 224, 13),
    "mobilenet_v2": (lambda: tvm.mobilenet_v2(weights=None), 224, 13),
    "resnet50": (lambda: tvm.resnet50(weights=None), 224, 17),
    "mobilenet_v3_large": (lambda: tvm.mobilenet_v3_large(weights=None), 224, 17),
    "efficientnet_b0": (lambda: tvm.efficientnet_b0(weights=None), 224, 17),
    "shufflenet_v2_x1_0": (lambda: tvm.shufflenet_v2_x1_0(weights=None), 224, 17),
    "regnet_y_400mf": (lambda: tvm.regnet_y_400mf(weights=None), 224, 17),
    "lraspp_mobilenet_v3_large": (
        lambda: OutOnly(tvm.segmentation.lraspp_mobilenet_v3_large(
            weights=None, weights_backbone=None)), 320, 17),
    "unet_small": (lambda: UNet(), 224, 17),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=os.environ.get("CALQ_CACHE", os.path.join(REPO, ".cache")))
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--list", action="store_true", help="print the zoo's names and exit")
    ap.add_argument("names", nargs="*", metavar="NAME")
    a = ap.parse_args()
    if a.list:
        for name, (_, side, opset) in MODELS.items():
            print(f"{name} 1x3x{side}x{side} opset {opset}")
        return 0
    unknown = [n for n in a.names if n not in MODELS]
    if unknown:
        sys.exit(f"torchvision_export: unknown model(s) {' '.join(unknown)} (--list)")
    torch.set_num_threads(1)
    outdir = os.path.join(a.cache, "models")
    os.makedirs(outdir, exist_ok=True)
    for name in a.names or MODELS:
        ctor, side, opset = MODELS[name]
        path = os.path.join(outdir, name + ".onnx")
        stamp = (f"{name} torch {torch.__version__} torchvision {torchvision.__version__} "
                 f"seed {SEED} opset {opset} input 1x3x{side}x{side}\n")
        try:
            with open(path + ".stamp") as f:
                same = f.read() == stamp
        except OSError:
            same = False
        if same and os.path.isfile(path) and not a.force:
            print(f"torchvision_export: {path}: up to date")
            continue
        torch.manual_seed(SEED)
        model = ctor().eval()
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(model, torch.randn(1, 3, side, side), tmp, opset_version=opset,
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
