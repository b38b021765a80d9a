"""safetensors_io.py — read and write .safetensors files for the fixture scripts, with nothing
beyond torch (no `safetensors` package needed).

The format: an unsigned 64-bit little-endian header length, a JSON header mapping each tensor
name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data block that
follows) plus an optional "__metadata__" object of string values, padded with spaces to a
multiple of 8 bytes, then the raw little-endian tensor data in header order.

save() writes tensors in the order given and the metadata last, with json.dumps' default
separators, so a fixture regenerated from the same values is the same file byte for byte.
load() returns (tensors, metadata); tensors are CPU tensors that own their memory.
"""
import json
import struct

import torch

# (torch dtype, safetensors name); every dtype the fixtures and io/safetensors.c use.
_DTYPES = [
    (torch.float64, 'F64'),
    (torch.float32, 'F32'),
    (torch.float16, 'F16'),
    (torch.bfloat16, 'BF16'),
    (torch.int64, 'I64'),
    (torch.int32, 'I32'),
    (torch.int16, 'I16'),
    (torch.int8, 'I8'),
    (torch.uint8, 'U8'),
    (torch.bool, 'BOOL'),
]
NAME_OF = dict(_DTYPES)
DTYPE_OF = {name: dt for dt, name in _DTYPES}


def _raw_bytes(t):
    """The tensor's elements as little-endian bytes, in row-major order."""
    flat = t.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def save(tensors, path, metadata=None):
    """Write the dict name -> tensor to path; metadata values are stored as str(value)."""
    header = {}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in NAME_OF:
            raise ValueError(f'{path}: tensor {name!r}: dtype {t.dtype} has no safetensors name here')
        data = _raw_bytes(t)
        header[name] = {'dtype': NAME_OF[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for data in chunks:
            f.write(data)


def load(path):
    """Read path; returns (dict name -> tensor, dict of metadata strings)."""
    with open(path, 'rb') as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f'{path}: too short for a safetensors file')
    (hlen,) = struct.unpack('<Q', blob[:8])
    if 8 + hlen > len(blob):
        raise ValueError(f'{path}: header length {hlen} runs past the end of the file')
    header = json.loads(blob[8:8 + hlen])
    data = blob[8 + hlen:]
    metadata = header.pop('__metadata__', {})
    tensors = {}
    for name, entry in header.items():
        if entry['dtype'] not in DTYPE_OF:
            raise ValueError(f'{path}: tensor {name!r}: unknown dtype {entry["dtype"]}')
        dtype = DTYPE_OF[entry['dtype']]
        begin, end = entry['data_offsets']
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f'{path}: tensor {name!r}: data_offsets {begin}..{end} outside the data')
        # bytearray: a writable copy, so the tensor owns its memory and torch does not warn
        raw = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.uint8) if end > begin \
            else torch.empty(0, dtype=torch.uint8)
        tensors[name] = raw.view(dtype).reshape(entry['shape'])
    return tensors, metadata
