"""Reads and writes lemma's tensor files (ir/weights.h describes the format)."""
import struct

import numpy as np

MAGIC = b"LEMMATNS"
DTYPES = {0: np.float32, 1: np.float64, 2: np.int64}
CODES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.int64): 2}


def write(path, tensors):
    """Writes {name: ndarray} (float32, float64 or int64) as a tensor file."""
    out = [MAGIC, struct.pack("<II", 1, len(tensors))]
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = name.encode()
        out.append(struct.pack("<I", len(raw)) + raw)
        out.append(struct.pack("<BI", CODES[a.dtype], a.ndim))
        out.append(struct.pack(f"<{a.ndim}q", *a.shape))
        out.append(a.astype(a.dtype.newbyteorder("<")).tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(out))


def read(path):
    """The {name: ndarray} of a tensor file."""
    data = open(path, "rb").read()
    assert data[:8] == MAGIC, "not a lemma tensor file"
    version, count = struct.unpack_from("<II", data, 8)
    assert version == 1
    pos, result = 16, {}
    for _ in range(count):
        (length,) = struct.unpack_from("<I", data, pos)
        pos += 4
        name = data[pos:pos + length].decode()
        pos += length
        code, rank = struct.unpack_from("<BI", data, pos)
        pos += 5
        dims = struct.unpack_from(f"<{rank}q", data, pos)
        pos += 8 * rank
        dtype = np.dtype(DTYPES[code]).newbyteorder("<")
        n = int(np.prod(dims)) if rank else 1
        result[name] = np.frombuffer(data, dtype, n, pos).reshape(dims).copy()
        pos += n * dtype.itemsize
    assert pos == len(data)
    return result
