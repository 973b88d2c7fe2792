#!/usr/bin/python3
"""Seed corpora for the fuzz harnesses (tests/fuzz/), made from the real files
the bootstrap provides: dlib's face photos and their imglab XML (as dlib, COCO,
VOC, YOLO and CSV annotations, each with a small JPEG of the photo after a NUL
byte, as the data harnesses split their input), small JPEG/PNG re-encodings of
the photos in the formats libjpeg and libpng take different paths for, ONNX's
node-test models and TensorProtos (libonnx-testdata), and calq's shipped
hardware profiles.

    tools/fuzz-seeds.py OUT      # OUT/NAME/ per harness; done once (OUT/.done)

The small seeds committed in tests/fuzz/NAME/ were picked from this output.
"""
import glob
import io
import json
import os
import sys
import xml.etree.ElementTree as ET

from PIL import Image

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cache = os.environ.get("CALQ_CACHE", os.path.join(top, ".cache"))
out = sys.argv[1]
if os.path.exists(os.path.join(out, ".done")):
    sys.exit(0)
node = "/usr/share/libonnx-testdata/data/node"
faces = os.path.join(cache, "dlib/examples/faces")


def put(harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def small_jpeg(path, side=32, **kw):
    im = Image.open(path).convert("RGB")
    im.thumbnail((side, side))
    b = io.BytesIO()
    im.save(b, "JPEG", quality=70, **kw)
    return b.getvalue()


# ---- images: each photo small, in the encodings the decoders branch on
photos = sorted(glob.glob(os.path.join(faces, "*.jpg")))
crops = sorted(glob.glob(os.path.join(cache, "dlib/examples/johns/*/*.jpg")))[:5]
for i, p in enumerate(photos + crops):
    base = os.path.splitext(os.path.basename(p))[0]
    im = Image.open(p).convert("RGB")
    im.thumbnail((48, 48))
    variants = {
        "jpg": lambda b: im.save(b, "JPEG", quality=80),
        "prog.jpg": lambda b: im.save(b, "JPEG", quality=60, progressive=True),
        "grey.jpg": lambda b: im.convert("L").save(b, "JPEG"),
        "444.jpg": lambda b: im.save(b, "JPEG", subsampling=0),
        "png": lambda b: im.save(b, "PNG"),
        "grey.png": lambda b: im.convert("L").save(b, "PNG"),
        "rgba.png": lambda b: im.convert("RGBA").save(b, "PNG"),
        "pal.png": lambda b: im.convert("P").save(b, "PNG"),
        "la.png": lambda b: im.convert("LA").save(b, "PNG"),
        "i16.png": lambda b: im.convert("L").convert("I").save(b, "PNG"),
        "bw.png": lambda b: im.convert("1").save(b, "PNG"),
    }
    for ext, save in variants.items():
        if i >= 3 and ext not in ("jpg", "png"):
            continue
        b = io.BytesIO()
        save(b)
        put("image", f"{base}.{ext}", b.getvalue())

# ---- annotations: dlib's XML as is, and converted to the other formats
img = small_jpeg(photos[0]) if photos else b""
for xml in sorted(glob.glob(os.path.join(faces, "*.xml"))):
    name = os.path.basename(xml)
    text = open(xml, "rb").read()
    put("dlib", name, text)
    put("dlib", name + ".img", text + b"\0" + img)
    root = ET.parse(xml).getroot()
    images = root.find("images").findall("image")
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "face"}]}
    csv = ["path,count,width,height"]
    for k, im in enumerate(images, 1):
        w, h = int(im.get("width", 500)), int(im.get("height", 375))
        f = im.get("file")
        coco["images"].append({"id": k, "file_name": f, "width": w, "height": h})
        boxes = im.findall("box")
        csv.append(f"{f},{len(boxes)},{w},{h}")
        objs, yolo = [], []
        for b in boxes:
            x, y = int(b.get("left")), int(b.get("top"))
            bw, bh = int(b.get("width")), int(b.get("height"))
            ign = b.get("ignore") == "1"
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": k,
                                        "category_id": 1, "bbox": [x, y, bw, bh],
                                        "area": bw * bh, "iscrowd": int(ign),
                                        "segmentation": [[x, y, x + bw, y, x + bw, y + bh]]})
            objs.append(f"<object><name>face</name><difficult>{int(ign)}</difficult><bndbox>"
                        f"<xmin>{x}</xmin><ymin>{y}</ymin><xmax>{x + bw}</xmax><ymax>{y + bh}</ymax>"
                        "</bndbox></object>")
            yolo.append(f"0 {(x + bw / 2) / w:.6f} {(y + bh / 2) / h:.6f} {bw / w:.6f} {bh / h:.6f}")
        voc = (f"<annotation><folder>faces</folder><filename>{f}</filename><size><width>{w}</width>"
               f"<height>{h}</height><depth>3</depth></size>{''.join(objs)}</annotation>\n").encode()
        stem = f"{name[:-4]}_{k}"
        put("voc", stem + ".xml", voc)
        put("voc", stem + ".nosize", voc.replace(f"<size><width>{w}</width><height>{h}</height>"
                                                 "<depth>3</depth></size>".encode(), b"")
            + b"\0" + img)
        put("yolo", stem + ".txt", ("\n".join(yolo) + "\n").encode() + b"\0" + img + b"\0face\n")
    put("coco", name[:-4] + ".json", json.dumps(coco).encode())
    put("coco", name[:-4] + ".pretty.json", json.dumps(coco, indent=1).encode())
    put("csv", name[:-4] + ".csv", ("\n".join(csv) + "\n").encode())
    put("csv", name[:-4] + ".tsv", ("\n".join(csv).replace(",", "\t") + "\n").encode())
    put("csv", name[:-4] + ".noside", ("path,count\n" + "\n".join(
        l.split(",")[0] + "," + l.split(",")[1] for l in csv[1:]) + "\n").encode()
        + b"\0" + img)

# ---- ONNX: the node tests' models and tensors; the planner gets 16 control bytes first
for d in sorted(glob.glob(os.path.join(node, "*"))):
    t = os.path.basename(d)
    m = os.path.join(d, "model.onnx")
    if not os.path.exists(m):
        continue
    data = open(m, "rb").read()
    put("onnx", t + ".onnx", data)
    put("pb", t + ".onnx", data)
    put("plan", t + ".onnx", bytes(16) + data)
    for pb in sorted(glob.glob(os.path.join(d, "test_data_set_0", "*.pb")))[:2]:
        b = open(pb, "rb").read()
        if len(b) <= 65536:
            put("onnx", t + "." + os.path.basename(pb), b)
qdq = os.path.join(top, "tests/data/fmnist_torch_qdq.onnx")
if os.path.exists(qdq):
    put("plan", "fmnist_torch_qdq.onnx", bytes(16) + open(qdq, "rb").read())

# ---- hardware profiles: the shipped ones
for p in sorted(glob.glob(os.path.join(top, "recipes/profiles/*.lua"))):
    put("profile", os.path.basename(p), open(p, "rb").read())

open(os.path.join(out, ".done"), "w").close()
