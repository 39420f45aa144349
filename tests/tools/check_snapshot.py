#!/usr/bin/env python3
"""Independent check of a yieldtune snapshot with h5py (not with our C reader).

usage: check_snapshot.py FILE [--expect-sample]

Checks the 512-byte header (magic, format 2, header size, file size, checksum64 of the
whole file with the checksum bytes as zero, computed here from checkpoint.h's and
common.h's description), the format attributes, that every attribute
string is fixed-length, that every dataset is chunked with Fletcher32 and that its
stored hash_fnv1a64 equals FNV-1a-64 of its little-endian bytes, then prints the
tensor names.  --expect-sample also checks the values written by
`YT_SNAP_SAMPLE=FILE tests/unit/test_checkpoint`.  Exit 0 when all is as expected."""
import struct
import sys

import h5py
import numpy as np

M64 = (1 << 64) - 1


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def checksum64(data) -> int:
    """yt_checksum64: little-endian words, zero-padded, round-robin into 4 lanes."""
    n = len(data)
    padded = bytes(data) + bytes(-n % 8)
    lanes = [1, 2, 3, 4]
    for i, w in enumerate(struct.unpack(f"<{len(padded) // 8}Q", padded)):
        lanes[i % 4] = mix64(lanes[i % 4] ^ w)
    h = n
    for lane in lanes:
        h = mix64(h ^ lane)
    return h


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    path = sys.argv[1]
    errors = []

    def expect(cond, what):
        if not cond:
            errors.append(what)

    raw = bytearray(open(path, "rb").read())
    expect(raw[:16] == b"\x89yieldtune-snap\n", "header magic")
    expect(int.from_bytes(raw[16:20], "little") == 2, "header format version")
    expect(int.from_bytes(raw[20:24], "little") == 512, "header size")
    expect(int.from_bytes(raw[24:32], "little") == len(raw), "header file size")
    stored = int.from_bytes(raw[32:40], "little")
    raw[32:40] = bytes(8)
    expect(stored == checksum64(raw), "header whole-file checksum")
    expect(not any(raw[40:512]), "header padding not zero")
    with h5py.File(path, "r") as f:
        a = f.attrs
        expect(f.userblock_size == 512, "user block of 512 bytes")
        expect(text(a.get("format", b"")) == "yieldtune-snapshot", "format attribute")
        expect(int(a.get("format_version", -1)) == 2, "format_version attribute")
        for k in a.keys():
            t = a.get_id(k).get_type()
            if isinstance(t, h5py.h5t.TypeStringID):
                expect(not t.is_variable_str(), f"attribute {k}: variable-length string")
        expect(int(a.get("complete", 0)) == 1, "complete attribute")
        expect("program_version" in a, "program_version attribute")
        names = []

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                names.append(name)

        f.visititems(visit)
        for name in names:
            d = f[name]
            arr = d[()]
            expect(d.size == 0 or d.fletcher32, f"{name}: no Fletcher32 filter")
            expect(d.size == 0 or d.chunks is not None, f"{name}: not chunked")
            expect(d.dtype.kind in "fu", f"{name}: dtype {d.dtype}")
            raw = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
            stored = int(d.attrs.get("hash_fnv1a64", -1))
            expect(stored == fnv1a64(raw), f"{name}: hash_fnv1a64 {stored:#x} != data's")
            print(f"{name} {d.dtype} {list(d.shape)}")

        if "--expect-sample" in sys.argv[2:]:
            expect(names == ["lora/layers.0.q_proj.lora_A", "optim/m/layers.0.q_proj.lora_A",
                             "rng/rank0", "sampler/cursor"], f"tensor names {names}")
            expect(text(a["program_version"]) == "yieldtune test-sample", "program_version")
            expect(int(a["step"]) == 100 and a["step"].dtype == np.int64, "step")
            expect(int(a["world_size"]) == 2, "world_size")
            expect(float(a["lr"]) == 0.00025, "lr")
            expect(text(a["config"]) == '{"rank": 8}', "config")
            expect(text(a["note"]) == "h\u00e9llo", "note (UTF-8)")
            q = f["lora/layers.0.q_proj.lora_A"]
            expect(q.dtype == np.float32 and q.shape == (2, 3), "q_proj shape/dtype")
            expect(np.array_equal(q[()], np.array([[0.5, -1.25, 3.0], [1e-3, -7.5, 42.0]],
                                                  dtype=np.float32)), "q_proj values")
            m = f["optim/m/layers.0.q_proj.lora_A"][()]
            expect(np.array_equal(m, (np.arange(8, dtype=np.float32) * 0.125 - 0.5)
                                  .reshape(4, 2)), "optim/m values")
            r = f["rng/rank0"]
            expect(r.dtype == np.uint64 and list(r[()]) ==
                   [12345, 0xFFFFFFFFFFFFFFFF, 0x0123456789ABCDEF], "rng values")
            c = f["sampler/cursor"]
            expect(c.dtype == np.uint8 and c[()].tobytes() == b"cursor-bytes", "cursor bytes")

    for e in errors:
        print(f"check_snapshot: {path}: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
