#!/usr/bin/python3
"""BlazeFace preprocessing: image file -> NHWC float32 [1,S,S,3] .npy.

    /usr/bin/python3 tools/ort/preprocess_blazeface.py --size 256 --outdir DIR IMG.jpg ...

Steps (the reference for calq's C image pipeline, per /work/shared/DATA.md):
 1. decode with PIL, convert to RGB (8-bit), no EXIF rotation;
 2. pad right and bottom with pixel value 0 to a square of side  max(width, height);
 3. bilinear resize to S x S, half-pixel centres, no antialiasing:
    for output index d along an axis of input length n:  s = (d + 0.5) * n / S - 0.5,
    clamped to [0, n-1]; i0 = floor(s), i1 = min(i0 + 1, n - 1), w = s - i0;
    value = (1-w)*v[i0] + w*v[i1], rows first then columns, computed in float32
    on the 0..255 values;
 4. x / 127.5 - 1 (float32).
Writes DIR/<stem>.npy and prints one JSON line per image: file, npy, width, height, side.
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image


def axis_weights(n, size):
    d = np.arange(size, dtype=np.float64)
    s = np.clip((d + 0.5) * n / size - 0.5, 0.0, n - 1)
    i0 = np.floor(s).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (s - i0).astype(np.float32)
    return i0, i1, w


def resize_bilinear(img, size):
    """img float32 [H,W,C] -> [size,size,C], half-pixel centres, no antialias."""
    h, w = img.shape[:2]
    r0, r1, rw = axis_weights(h, size)
    c0, c1, cw = axis_weights(w, size)
    rows = img[r0] * (1 - rw)[:, None, None] + img[r1] * rw[:, None, None]
    out = rows[:, c0] * (1 - cw)[None, :, None] + rows[:, c1] * cw[None, :, None]
    return out.astype(np.float32)


def preprocess(path, size):
    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as e:
        raise SystemExit(f"preprocess_blazeface: {path}: cannot decode ({e})")
    h, w = rgb.shape[:2]
    side = max(h, w)
    sq = np.zeros((side, side, 3), dtype=np.float32)
    sq[:h, :w] = rgb
    x = resize_bilinear(sq, size) / np.float32(127.5) - np.float32(1.0)
    return x[None].astype(np.float32), w, h, side


def main():
    ap = argparse.ArgumentParser(description="BlazeFace preprocessing to .npy")
    ap.add_argument("--size", type=int, required=True, help="model input side (256 or 128)")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--prefix", default="", help="prefix for output file names")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for p in a.images:
        x, w, h, side = preprocess(p, a.size)
        stem = a.prefix + os.path.splitext(os.path.basename(p))[0]
        out = os.path.join(a.outdir, stem + ".npy")
        tmp = out + ".tmp.npy"
        np.save(tmp, x)
        os.replace(tmp, out)
        print(json.dumps({"file": p, "npy": out, "width": w, "height": h, "side": side}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
