"""Tiny safetensors writer and reader (F32, I32 and I8 only), no dependencies
beyond numpy (torch tensors are accepted on write).

File layout:

    [8 bytes]  N, the header length, little-endian uint64
    [N bytes]  JSON header, padded with trailing spaces so that (8 + N) % 8 == 0
    [rest]     raw little-endian tensor bytes, laid out contiguously in the
               order of the header, with no gaps

Header JSON (written compactly, keys in this order):

    {"__metadata__": {"key": "value", ...},
     "<name>": {"dtype": "F32" | "I32" | "I8", "shape": [..], "data_offsets": [begin, end]},
     ...}

data_offsets are byte offsets relative to the start of the data section
(byte 8 + N). The writer is deterministic: the same input gives the same bytes.
"""

import json
import struct

import numpy as np

# safetensors dtype name <-> little-endian numpy dtype
_DTYPES = {"F32": np.dtype("<f4"), "I32": np.dtype("<i4"), "I8": np.dtype("i1")}


def _dtype_name(arr):
    """The safetensors dtype name of a numpy array; other dtypes are rejected."""
    if arr.dtype == np.float32:
        return "F32"
    if arr.dtype == np.int32:
        return "I32"
    if arr.dtype == np.int8:
        return "I8"
    raise TypeError(f"unsupported dtype {arr.dtype} (only float32 -> F32, int32 -> I32, int8 -> I8)")


def _to_numpy(value):
    """A numpy array from a numpy array or a torch tensor (moved to the CPU)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch here
        return value.detach().cpu().numpy()
    raise TypeError(f"expected a numpy array or torch tensor, got {type(value).__name__}")


def write(path, tensors, metadata=None):
    """Write `tensors` (dict name -> array/tensor, in the order given) and
    `metadata` (dict str -> str) to a .safetensors file at `path`."""
    metadata = dict(metadata or {})
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"metadata must map str to str, got {k!r}: {v!r}")

    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"bad tensor name {name!r}")
        arr = _to_numpy(value)
        dtype = _dtype_name(arr)
        blob = np.ascontiguousarray(arr, dtype=_DTYPES[dtype]).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)

    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % 8)  # pad so the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read(path):
    """Read a .safetensors file: returns (dict name -> np.ndarray, metadata dict).
    Checks that the tensors tile the data section exactly."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: file too short for a header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]

    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    spans = []
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
        numel = int(np.prod(shape, dtype=np.int64))
        if not (0 <= begin <= end <= len(data)) or end - begin != numel * dtype.itemsize:
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {begin}, {end}")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
        spans.append((begin, end))

    spans.sort()
    pos = 0
    for begin, end in spans:
        if begin != pos:
            raise ValueError(f"{path}: tensors overlap or leave a gap at byte {pos}")
        pos = end
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} unused bytes after the last tensor")
    return tensors, metadata
