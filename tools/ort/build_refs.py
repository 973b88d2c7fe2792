#!/usr/bin/python3
"""Build one part of calq's reference data under $CALQ_CACHE/refs (called by tools/make_refs.sh).

    /usr/bin/python3 tools/ort/build_refs.py blazeface|fmnist --cache DIR --workdir DIR

Writes inputs (.npy), ONNX Runtime outputs (.npy, via tools/ort/run_batch.js) and
WORKDIR/manifest.json into WORKDIR, which make_refs.sh then renames to refs/<part>.
Every path in the manifest is relative to the refs/ directory.

manifest.json: { "part", "ort_version", "cases": [ { "name", "model", "inputs":
  [{name, file, dtype, shape}], "outputs": [{name, file, dtype, shape}], "meta": {...} } ] }
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import preprocess_blazeface  # noqa: E402

BLAZEFACE = {  # case prefix -> (model file under the cache, input side)
    "back256": ("blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx", 256),
    "front128": ("blazeface/package/ONNX/face_detection_front_128x128_barracuda.onnx", 128),
}
JOHNS_PER_PERSON = 2
FMNIST_N = 256


def save(path, arr):
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def run_jobs(workdir, jobs):
    jobs_file = os.path.join(workdir, "jobs.json")
    res_file = os.path.join(workdir, "ort_results.json")
    with open(jobs_file, "w") as f:
        json.dump({"threads": 1, "jobs": jobs}, f, indent=1)
    subprocess.run(["node", os.path.join(HERE, "run_batch.js"), jobs_file, res_file], check=True)
    with open(res_file) as f:
        res = json.load(f)
    os.remove(jobs_file)
    os.remove(res_file)
    return res


def rel(path, workdir, part):
    """Path of a file in workdir as it will be seen from refs/ after the rename."""
    return os.path.join(part, os.path.relpath(path, workdir))


def blazeface(cache, workdir, part):
    faces = sorted(glob.glob(os.path.join(cache, "dlib/examples/faces/*.jpg")))
    johns = []
    for person in sorted(glob.glob(os.path.join(cache, "dlib/examples/johns/*"))):
        johns += sorted(glob.glob(os.path.join(person, "*.jpg")))[:JOHNS_PER_PERSON]
    if not faces:
        raise SystemExit(f"build_refs: no photos in {cache}/dlib/examples/faces")
    images = [("faces", p) for p in faces] + [("johns", p) for p in johns]
    jobs, metas = [], []
    for key, (model_rel, size) in BLAZEFACE.items():
        model = os.path.join(cache, model_rel)
        if not os.path.isfile(model):
            raise SystemExit(f"build_refs: {model}: missing")
        indir = os.path.join(workdir, key, "inputs")
        os.makedirs(indir, exist_ok=True)
        for group, p in images:
            stem = os.path.splitext(os.path.basename(p))[0]
            if group == "johns":
                stem = os.path.basename(os.path.dirname(p)) + "_" + stem
            x, w, h, side = preprocess_blazeface.preprocess(p, size)
            npy = os.path.join(indir, stem + ".npy")
            save(npy, x)
            jobs.append({"model": model, "inputs": {"input:0": npy},
                         "outdir": os.path.join(workdir, key, "outputs", stem)})
            metas.append({"name": f"blazeface_{key}/{stem}",
                          "model": os.path.relpath(model, os.path.join(cache, "refs")),
                          "meta": {"image": os.path.relpath(p, cache), "group": group,
                                   "width": w, "height": h, "side": side, "size": size}})
    res = run_jobs(workdir, jobs)
    return res, metas


def fmnist(cache, workdir, part):
    src = os.path.join(REPO, "models/fashion_mnist/fmnist_cnn.onnx")
    if not os.path.isfile(src):
        raise SystemExit(f"build_refs: {src}: missing (run models/fashion_mnist/train.py)")
    sys.path.insert(0, os.path.join(REPO, "models/fashion_mnist"))
    import fmnist_data  # reads the idx files the same way training did
    x, y = fmnist_data.load("test")
    x = fmnist_data.normalize(x[:FMNIST_N])
    y = y[:FMNIST_N].astype(np.int64)
    model = os.path.join(workdir, "fmnist_cnn.onnx")
    shutil.copyfile(src, model)
    save(os.path.join(workdir, "input.npy"), x)
    save(os.path.join(workdir, "labels.npy"), y)
    res = run_jobs(workdir, [{"model": model, "inputs": {"input": os.path.join(workdir, "input.npy")},
                              "outdir": os.path.join(workdir, "outputs")}])
    logits = np.load(os.path.join(workdir, "outputs", "logits.npy"))
    acc = float((logits.argmax(1) == y).mean())
    metas = [{"name": "fmnist_cnn/test256", "model": rel(model, workdir, part),
              "meta": {"labels": rel(os.path.join(workdir, "labels.npy"), workdir, part),
                       "normalize": "x/255", "ort_accuracy": acc,
                       "source": "t10k first 256"}}]
    print(f"build_refs: fmnist ORT accuracy on the first {FMNIST_N} test images: {acc:.4f}")
    return res, metas


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["blazeface", "fmnist"])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    res, metas = (blazeface if a.part == "blazeface" else fmnist)(a.cache, a.workdir, a.part)
    cases = []
    for r, m in zip(res["results"], metas):
        case = {"name": m["name"], "model": m["model"]}
        for k in ("inputs", "outputs"):
            case[k] = [{"name": t["name"], "file": rel(t["file"], a.workdir, a.part),
                        "dtype": t["dtype"], "shape": t["shape"]} for t in r[k]]
        case["meta"] = m["meta"]
        cases.append(case)
    man = {"part": a.part, "ort_version": res["ort_version"], "threads": res["threads"], "cases": cases}
    with open(os.path.join(a.workdir, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
        f.write("\n")
    print(f"build_refs: {a.part}: {len(cases)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
