#!/usr/bin/python3
"""List the nodes of an ONNX model without the onnx package (a minimal protobuf walk).

    /usr/bin/python3 tools/ort/onnx_ops.py MODEL.onnx [--nodes]

Prints opset imports, inputs/outputs names and a count per op type (or every node
with --nodes). Only the fields needed are decoded: ModelProto.opset_import (8),
.graph (7); GraphProto.node (1), .input (11), .output (12); NodeProto.op_type (4),
.name (3); ValueInfoProto.name (1); OperatorSetIdProto.domain (1), .version (2).
"""
import collections
import sys


def fields(buf, where):
    """Yield (field number, wire type, value) of one protobuf message."""
    i, n = 0, len(buf)

    def varint():
        nonlocal i
        shift = v = 0
        while True:
            if i >= n:
                raise ValueError(f"{where}: truncated varint at byte {i}")
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
            if shift > 63:
                raise ValueError(f"{where}: varint too long at byte {i}")

    while i < n:
        key = varint()
        fno, wt = key >> 3, key & 7
        if wt == 0:
            yield fno, wt, varint()
        elif wt == 1:
            i += 8
            yield fno, wt, None
        elif wt == 2:
            ln = varint()
            if i + ln > n:
                raise ValueError(f"{where}: field {fno} of {ln} bytes at byte {i} runs past the end")
            yield fno, wt, buf[i:i + ln]
            i += ln
        elif wt == 5:
            i += 4
            yield fno, wt, None
        else:
            raise ValueError(f"{where}: unsupported wire type {wt} at byte {i}")


def model_info(path):
    with open(path, "rb") as f:
        buf = f.read()
    info = {"opsets": [], "inputs": [], "outputs": [], "nodes": []}
    graph = None
    for fno, wt, v in fields(buf, path):
        if fno == 7 and wt == 2:
            graph = v
        elif fno == 8 and wt == 2:
            d = dict((k, x) for k, _, x in fields(v, path))
            info["opsets"].append(((d.get(1) or b"").decode() or "ai.onnx", d.get(2)))
    if graph is None:
        raise ValueError(f"{path}: no graph")
    inits = set()
    for fno, wt, v in fields(graph, path):
        if fno == 1 and wt == 2:
            d = {k: x for k, _, x in fields(v, path) if k in (3, 4)}
            info["nodes"].append(((d.get(4) or b"").decode(), (d.get(3) or b"").decode()))
        elif fno == 5 and wt == 2:
            for k, _, x in fields(v, path):
                if k == 8:
                    inits.add(x.decode())
        elif fno in (11, 12) and wt == 2:
            name = next((x.decode() for k, _, x in fields(v, path) if k == 1), "")
            info["inputs" if fno == 11 else "outputs"].append(name)
    info["inputs"] = [x for x in info["inputs"] if x not in inits]
    return info


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        info = model_info(sys.argv[1])
    except (OSError, ValueError) as e:
        print(f"onnx_ops: {e}", file=sys.stderr)
        return 1
    print("opsets:", ", ".join(f"{d} {v}" for d, v in info["opsets"]))
    print("inputs:", ", ".join(info["inputs"]), "| outputs:", ", ".join(info["outputs"]))
    if "--nodes" in sys.argv:
        for op, name in info["nodes"]:
            print(f"  {op} {name}")
    cnt = collections.Counter(op for op, _ in info["nodes"])
    print("ops:", ", ".join(f"{op} {c}" for op, c in sorted(cnt.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
