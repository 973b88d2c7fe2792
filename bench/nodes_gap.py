#!/usr/bin/env python3
"""bench/nodes_gap.py - calq's per-node times against ONNX Runtime's, grouped by layer
shape and ranked by the gap (calq ms - ORT ms), largest first.

  python3 bench/nodes_gap.py CALQ.txt ORT.txt

CALQ.txt: the output of `calq run bench/calq_nodes.lua MODEL RUNS TOP`, ORT.txt: of
`node bench/ort_nodes.js MODEL --top TOP`, each with TOP at least the model's node count
so every node is listed. A group is an operator with its first input's shape (batch
dropped) and, for Conv, its weight shape: ResNet-50's three 3x3 64-channel convs at
56x56 are one row. Nodes one engine fused into another (calq: Relu, the residual Add
and the stem's MaxPool into the Conv; ORT: Relu and Add) show 0 on that side; the two
sums are the whole per-node totals.
"""
import re
import sys

LINE = re.compile(r'\s*([\d.]+) (\S+)\s+(\S+)\s+(.*?) -> (\S+)\s*$')


def groups(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            ms, op, _name, ins, _out = m.groups()
            ins = ins.split()
            x = ins[0].split('x', 1)[1] if ins and 'x' in ins[0] else (ins[0] if ins else '')
            key = (op, x, ins[1] if op == 'Conv' and len(ins) > 1 else '')
            n, t = out.get(key, (0, 0.0))
            out[key] = (n + 1, t + float(ms))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: python3 bench/nodes_gap.py CALQ.txt ORT.txt')
    c, o = groups(sys.argv[1]), groups(sys.argv[2])
    rows = []
    for k in set(c) | set(o):
        a, b = c.get(k, (0, 0.0)), o.get(k, (0, 0.0))
        if a[1] == 0 and b[1] == 0:
            continue
        rows.append((a[1] - b[1], a[1], b[1], max(a[0], b[0]), k))
    rows.sort(key=lambda r: -r[0])
    print('%8s %8s %8s %3s  %s' % ('gap', 'calq', 'ort', 'n', 'op, input (no batch), weight'))
    for gap, a, b, n, k in rows:
        print('%8.3f %8.3f %8.3f %3d  %s' % (gap, a, b, n, ' '.join(s for s in k if s)))
    print('%8.3f %8.3f %8.3f      sum' % (sum(r[0] for r in rows), sum(r[1] for r in rows),
                                          sum(r[2] for r in rows)))


if __name__ == '__main__':
    main()
