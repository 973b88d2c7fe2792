#!/usr/bin/python3
"""Export one Conv(+Relu) ONNX model per layer of `bench_kern --layers` (read
from stdin) into the directory argv[1], with torch.onnx.export; prints one
line per model: <path>\t<layer name>\t<c_in>\t<h>\t<w>."""
import os
import sys

import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
for i, line in enumerate(sys.stdin):
    name, cin, h, w, cout, k, s, p, g = line.rstrip("\n").split("\t")
    cin, h, w, cout, k, s, p, g = map(int, (cin, h, w, cout, k, s, p, g))
    m = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, groups=g),
                            torch.nn.ReLU()).eval()
    path = os.path.join(out, "conv%02d.onnx" % i)
    torch.onnx.export(m, torch.randn(1, cin, h, w), path, opset_version=13,
                      input_names=["x"], output_names=["y"])
    print("%s\t%s\t%d\t%d\t%d" % (path, name, cin, h, w))
