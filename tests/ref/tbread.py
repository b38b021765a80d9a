#!/usr/bin/env python3
"""tbread.py — an independent reader of TensorBoard event files, run by check_tbevents at
test time (python3 only, no protobuf or tensorboard package needed).

It parses the TFRecord framing, checks both masked CRC32C values with its own CRC32C, and
decodes the Event / Summary / Value / Image protobuf fields that lamac writes, printing one
line per value:
    version <file_version>            (the first record)
    scalar <step> <tag> <value %.9g>
    image <step> <tag> <height> <width> <colorspace> <png bytes> png|notpng
When the `tensorboard` package is importable, it also reads the file with tensorboard's own
EventFileLoader and prints "tensorboard ok <n events>" (otherwise "tensorboard absent").
Exit status 1 and a message on stderr for any framing, CRC or protobuf error."""
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(b, i):
    v = s = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        x = b[i]
        i += 1
        v |= (x & 0x7F) << s
        s += 7
        if not x & 0x80:
            return v, i
        if s > 63:
            raise ValueError("varint too long")


def fields(b):
    """yields (field number, wire type, value) of one message"""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("unsupported wire type %d" % wt)
        if i > len(b):
            raise ValueError("field %d runs past the message" % f)
        yield f, wt, v


def main(path):
    data = open(path, "rb").read()
    pos = n = 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("truncated record header at %d" % pos)
        hdr = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", hdr)
        (hcrc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if hcrc != masked(hdr):
            raise ValueError("length CRC mismatch at %d" % pos)
        body = data[pos + 12:pos + 12 + length]
        if len(body) != length or pos + 16 + length > len(data):
            raise ValueError("truncated record at %d" % pos)
        (dcrc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if dcrc != masked(body):
            raise ValueError("data CRC mismatch at %d" % pos)
        pos += 16 + length
        step = 0
        for f, wt, v in fields(body):
            if f == 1 and wt == 1:
                struct.unpack("<d", v)
            elif f == 2 and wt == 0:
                step = v - (1 << 64) if v >= 1 << 63 else v
            elif f == 3 and wt == 2:
                print("version", v.decode())
            elif f == 5 and wt == 2:
                for sf, swt, sv in fields(v):
                    if sf != 1 or swt != 2:
                        raise ValueError("unexpected Summary field %d" % sf)
                    tag, val, img = None, None, None
                    for vf, vwt, vv in fields(sv):
                        if vf == 1:
                            tag = vv.decode()
                        elif vf == 2 and vwt == 5:
                            (val,) = struct.unpack("<f", vv)
                        elif vf == 4 and vwt == 2:
                            img = {a: c for a, _, c in fields(vv)}
                    if val is not None:
                        print("scalar %d %s %.9g" % (step, tag, val))
                    if img is not None:
                        png = img.get(4, b"")
                        print("image %d %s %d %d %d %d %s" % (step, tag, img.get(1, 0), img.get(2, 0),
                                                               img.get(3, 0), len(png),
                                                               "png" if png[:8] == b"\x89PNG\r\n\x1a\n" else "notpng"))
            else:
                raise ValueError("unexpected Event field %d (wire type %d)" % (f, wt))
        n += 1
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    except Exception:
        print("tensorboard absent")
        return
    events = list(EventFileLoader(path).Load())
    if len(events) != n:
        raise ValueError("tensorboard read %d events, we read %d" % (len(events), n))
    print("tensorboard ok %d" % n)


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except (ValueError, struct.error, UnicodeDecodeError) as e:
        print("tbread: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        sys.exit(1)
