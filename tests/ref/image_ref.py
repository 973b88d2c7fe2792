#!/usr/bin/python3
"""Independent reference for calq's image tests: Debian's PIL (python3-pil)
and torch for the half-pixel bilinear. Each command compares calq's output
file against the reference and prints "maxdiff <value> <count of pixels off>".

  image_ref.py decode  SRC CALQ.png            decoded pixels (PIL open + load)
  image_ref.py resize  SRC W H CALQ.png        PIL resize(BILINEAR, reducing_gap=None)
  image_ref.py preproc SRC PRESET CALQ.f32     reference pipeline of a preset
  image_ref.py halfpixel SRC W H CALQ.png      torch interpolate(bilinear, align_corners=False)
  image_ref.py pngs SRC OUTDIR                 writes PNGs of several colour types
  image_ref.py batch                           the commands above, one per stdin line
"""
import sys
import numpy as np
from PIL import Image


def load(p):
    im = Image.open(p)
    im.load()
    if im.mode in ("L", "RGB"):
        return im
    return im.convert("L" if im.mode in ("1", "LA") else "RGB")  # alpha dropped, as calq


def report(a, b):
    sys.stdout.flush()
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).reshape(a.shape)
    d = np.abs(a - b)
    print("maxdiff %.9g %d" % (d.max(), int((d > 1e-6).sum())), flush=True)


def half_pixel(arr, w, h):
    import torch
    t = torch.from_numpy(arr.astype(np.float32)).permute(2, 0, 1)[None]
    r = torch.nn.functional.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)
    return r[0].permute(1, 2, 0).numpy()


def preproc(src, preset):
    im = load(src)
    if preset in ("blazeface", "blazeface128"):
        size = 256 if preset == "blazeface" else 128
        im = im.convert("RGB")
        side = max(im.size)
        sq = Image.new("RGB", (side, side), (0, 0, 0))
        sq.paste(im, (0, 0))
        r = np.floor(half_pixel(np.asarray(sq), size, size) + 0.5)  # 8-bit, as calq
        return r / 127.5 - 1.0  # NHWC
    if preset == "fmnist":
        g = im.convert("L").resize((28, 28), Image.BILINEAR, reducing_gap=None)
        return np.asarray(g, dtype=np.float64)[None] / 255.0
    if preset == "imagenet":
        im = im.convert("RGB")
        w, h = im.size
        if w <= h:
            nw, nh = 256, int(256 * h / w)
        else:
            nw, nh = int(256 * w / h), 256
        im = im.resize((nw, nh), Image.BILINEAR, reducing_gap=None)
        left, top = int(round((nw - 224) / 2.0)), int(round((nh - 224) / 2.0))
        im = im.crop((left, top, left + 224, top + 224))
        a = np.asarray(im, dtype=np.float64) / 255.0
        a = (a - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
        return a.transpose(2, 0, 1)
    raise SystemExit("unknown preset " + preset)


def main(argv):
    if argv[1] == "batch":  # one job per stdin line: saves the interpreter and torch start-up
        for line in sys.stdin:
            if line.strip():
                main([argv[0]] + line.split())
        return
    cmd = argv[1]
    if cmd == "pngs":  # PNG flavours made by PIL from one photo, for the decode test
        src, out = load(argv[2]).convert("RGB").resize((97, 61)), argv[3]
        src.save(out + "/rgb.png")
        src.convert("L").save(out + "/l.png")
        src.quantize(37).save(out + "/p.png")
        src.convert("RGBA").save(out + "/rgba.png")
        src.convert("LA").save(out + "/la.png")
        src.convert("1").save(out + "/bits.png")
        print("ok")
    elif cmd == "decode":
        report(np.asarray(load(argv[2])), np.asarray(load(argv[3])))
    elif cmd == "resize":
        w, h = int(argv[3]), int(argv[4])
        ref = load(argv[2]).resize((w, h), Image.BILINEAR, reducing_gap=None)
        report(np.asarray(ref), np.asarray(load(argv[5])))
    elif cmd == "halfpixel":
        w, h = int(argv[3]), int(argv[4])
        ref = half_pixel(np.asarray(load(argv[2])).reshape(load(argv[2]).size[1], load(argv[2]).size[0], -1), w, h)
        got = np.asarray(load(argv[5]), dtype=np.float64).reshape(ref.shape)
        report(ref, got)
    elif cmd == "preproc":
        ref = preproc(argv[2], argv[3])
        got = np.fromfile(argv[4], dtype="<f4")
        report(ref, got)
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
