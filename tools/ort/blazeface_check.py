#!/usr/bin/python3
"""Score BlazeFace reference outputs against the dlib face boxes (training.xml + testing.xml).

    /usr/bin/python3 tools/ort/blazeface_check.py [--cache DIR] [--score 0.5] [--iou 0.3]

Reads $CALQ_CACHE/refs/blazeface/manifest.json (built by tools/make_refs.sh), decodes
each case with blazeface_decode.py and matches detections greedily (highest score
first) to the unmatched ground-truth box of highest IoU; a match needs IoU >= --iou.
Prints, per model and NMS flavour, found/total faces and false positives, and one JSON
line per result. Exit 1 if the manifest is missing.
"""
import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import blazeface_decode as bd  # noqa: E402

ORDER = ("Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0")


def ground_truth(faces_dir):
    gt = {}
    for xml in ("training.xml", "testing.xml"):
        root = ET.parse(os.path.join(faces_dir, xml)).getroot()
        for im in root.iter("image"):
            boxes = []
            for b in im.iter("box"):
                if b.get("ignore") == "1":
                    continue
                x, y = float(b.get("left")), float(b.get("top"))
                boxes.append([x, y, x + float(b.get("width")), y + float(b.get("height"))])
            gt[os.path.basename(im.get("file"))] = np.array(boxes).reshape(-1, 4)
    return gt


def match(dets, gt, thr):
    """-> (true positives, false positives); dets sorted by score already."""
    used = np.zeros(len(gt), bool)
    tp = fp = 0
    for d in dets:
        if len(gt):
            ov = np.where(used, -1.0, bd.iou_one(d, gt))
            j = int(np.argmax(ov))
            if ov[j] >= thr:
                used[j] = True
                tp += 1
                continue
        fp += 1
    return tp, fp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = os.path.dirname(os.path.dirname(HERE))
    ap.add_argument("--cache", default=os.environ.get("CALQ_CACHE", os.path.join(repo, ".cache")))
    ap.add_argument("--score", type=float, default=0.5)
    ap.add_argument("--iou", type=float, default=0.3, help="IoU to count a match")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    refs = os.path.join(a.cache, "refs")
    mpath = os.path.join(refs, "blazeface", "manifest.json")
    if not os.path.isfile(mpath):
        print(f"blazeface_check: {mpath}: missing (run tools/make_refs.sh)", file=sys.stderr)
        return 1
    with open(mpath) as f:
        man = json.load(f)
    gt = ground_truth(os.path.join(a.cache, "dlib/examples/faces"))
    for model in ("back256", "front128"):
        for weighted in (True, False):
            tot = found = fps = 0
            for c in man["cases"]:
                if not c["name"].startswith(f"blazeface_{model}/"):
                    continue
                img = os.path.basename(c["meta"]["image"])
                if c["meta"]["group"] != "faces" or img not in gt:
                    continue
                outs = {o["name"]: np.load(os.path.join(refs, o["file"])) for o in c["outputs"]}
                arr = [outs[n] for n in ORDER]
                dets = bd.decode(arr[:2], arr[2:], c["meta"]["size"], c["meta"]["side"],
                                 a.score, 0.3, weighted)
                tp, fp = match(dets, gt[img], a.iou)
                tot += len(gt[img])
                found += tp
                fps += fp
                if a.verbose:
                    print(f"  {model} {img}: {tp}/{len(gt[img])} found, {fp} FP")
            nms = "weighted" if weighted else "plain"
            print(json.dumps({"model": model, "nms": nms, "score": a.score, "match_iou": a.iou,
                              "found": found, "faces": tot, "false_positives": fps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
