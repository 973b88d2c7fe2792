#!/usr/bin/python3
"""Decode BlazeFace (MediaPipe, keijiro barracuda ONNX) outputs into face boxes.

Library:  anchors(), decode(scores_list, boxes_list, size, side, ...) -> [N,5] (x0,y0,x1,y1,score)
CLI:      /usr/bin/python3 tools/ort/blazeface_decode.py --size 256 --side 480 \
              SCORES_16.npy SCORES_8.npy BOXES_16.npy BOXES_8.npy [--score 0.5] [--plain]

Both the back-256 and the front-128 models have four outputs (checked with ORT 1.30):
  Identity:0   [1,512,1]   score logits, 16x16 grid, 2 anchors per cell
  Identity_1:0 [1,384,1]   score logits, 8x8 grid, 6 anchors per cell
  Identity_2:0 [1,512,16]  box regressors for the 512 anchors of the 16x16 grid
  Identity_3:0 [1,384,16]  box regressors for the 384 anchors of the 8x8 grid
Anchor order: row y, column x, then anchor a; centre ((x+0.5)/g, (y+0.5)/g), unit size.
Regressor: [cx, cy, w, h, 6 keypoints (x, y)] in input pixels relative to the anchor
centre. Score = sigmoid(logit clipped to +-100). Boxes are scaled by the side of the
padded square (padding is right/bottom, so the origin is unchanged).
NMS at IoU 0.3: weighted (MediaPipe's blending: boxes overlapping the best one are
averaged with their scores as weights; default) or plain (--plain).
"""
import argparse
import json
import sys

import numpy as np

GRIDS = ((16, 2), (8, 6))  # (grid side, anchors per cell): 512 + 384 = 896


def anchors():
    """[896,2] anchor centres in [0,1], in output order."""
    out = []
    for g, k in GRIDS:
        ys, xs = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
        c = np.stack([(xs + 0.5) / g, (ys + 0.5) / g], axis=-1).reshape(g * g, 1, 2)
        out.append(np.repeat(c, k, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float64)


def iou_one(box, boxes):
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = a + b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(dets, iou=0.3, weighted=True):
    """dets [N,5] (x0,y0,x1,y1,score) -> kept [M,5], highest score first."""
    order = np.argsort(-dets[:, 4], kind="stable")
    rest = dets[order]
    kept = []
    while len(rest):
        ov = iou_one(rest[0], rest)
        group = ov >= iou  # includes rest[0] itself (IoU 1)
        group[0] = True
        if weighted:
            w = rest[group, 4:5]
            box = (rest[group, :4] * w).sum(0) / w.sum()
            kept.append(np.concatenate([box, rest[0, 4:5]]))
        else:
            kept.append(rest[0].copy())
        rest = rest[~group]
    return np.array(kept).reshape(-1, 5)


def decode(scores, boxes, size, side, score_min=0.5, iou=0.3, weighted=True):
    """scores: list of [1,n,1] logits, boxes: list of [1,n,16] (grid 16 then grid 8).

    Returns [M,5] boxes (x0,y0,x1,y1,score) in pixels of the original image."""
    logit = np.concatenate([np.asarray(s, np.float64).reshape(-1) for s in scores])
    reg = np.concatenate([np.asarray(b, np.float64).reshape(-1, 16) for b in boxes])
    anc = anchors()
    if logit.shape[0] != anc.shape[0] or reg.shape[0] != anc.shape[0]:
        raise ValueError(f"expected {anc.shape[0]} anchors, got {logit.shape[0]} scores and {reg.shape[0]} boxes")
    score = 1.0 / (1.0 + np.exp(-np.clip(logit, -100, 100)))
    keep = score >= score_min
    cx = reg[:, 0] / size + anc[:, 0]
    cy = reg[:, 1] / size + anc[:, 1]
    w = reg[:, 2] / size
    h = reg[:, 3] / size
    dets = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score], axis=1)[keep]
    dets[:, :4] *= side
    return nms(dets, iou, weighted)


def main():
    ap = argparse.ArgumentParser(description="decode BlazeFace outputs (.npy) to boxes")
    ap.add_argument("--size", type=int, required=True, help="model input side (256 or 128)")
    ap.add_argument("--side", type=float, required=True, help="padded square side in image pixels")
    ap.add_argument("--score", type=float, default=0.5)
    ap.add_argument("--iou", type=float, default=0.3)
    ap.add_argument("--plain", action="store_true", help="plain NMS instead of weighted")
    ap.add_argument("scores16")
    ap.add_argument("scores8")
    ap.add_argument("boxes16")
    ap.add_argument("boxes8")
    a = ap.parse_args()
    arr = [np.load(p) for p in (a.scores16, a.scores8, a.boxes16, a.boxes8)]
    dets = decode(arr[:2], arr[2:], a.size, a.side, a.score, a.iou, not a.plain)
    for d in dets:
        print(json.dumps({"box": [round(float(v), 2) for v in d[:4]], "score": round(float(d[4]), 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
