"""Fashion-MNIST from Debian's dataset-fashion-mnist, read directly (gzip'ed idx files).

    from fmnist_data import load, normalize
    x, y = load("test")          # uint8 [10000,28,28], uint8 [10000]
    xf = normalize(x)            # float32 [10000,1,28,28] = x / 255

No torch here, so reference builders can use it cheaply.
"""
import gzip
import os
import struct

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """Return the array stored in a gzip'ed idx file (uint8 payload only)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated header ({len(raw)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an idx uint8 file (magic {raw[:4].hex()})")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{path}: truncated dims")
    dims = struct.unpack(">" + "I" * ndim, raw[4:head])
    n = int(np.prod(dims))
    if len(raw) - head != n:
        raise ValueError(f"{path}: payload is {len(raw) - head} bytes, dims {dims} need {n}")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims)


def load(split):
    pre = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(DATA, f"{pre}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA, f"{pre}-labels-idx1-ubyte.gz"))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{split}: {x.shape[0]} images but {y.shape[0]} labels")
    return x, y


def normalize(x_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1] (x/255)."""
    return (x_u8.astype(np.float32) / 255.0)[:, None, :, :]
