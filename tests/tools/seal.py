#!/usr/bin/env python3
"""Seals a yieldtune file again after an edit with h5py: rewrites the 512-byte
header (magic kept, format version, header size, file size, whole-file
checksum) of a snapshot or a token dataset, from common.h's description, not
by our C code.  Also the header check, for tests that read files we wrote.

usage: seal.py FILE...      seal each FILE in place"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_snapshot import checksum64  # noqa: E402  (same folder)

HEADER = 512
VERSIONS = {b"\x89yieldtune-snap\n": 2, b"\x89yieldtune-toks\n": 2}


def seal(path):
    data = bytearray(open(path, "rb").read())
    magic = bytes(data[:16])
    assert magic in VERSIONS, f"{path}: no yieldtune header"
    data[16:20] = VERSIONS[magic].to_bytes(4, "little")
    data[20:24] = HEADER.to_bytes(4, "little")
    data[24:32] = len(data).to_bytes(8, "little")
    data[32:40] = bytes(8)
    data[32:40] = checksum64(data).to_bytes(8, "little")
    open(path, "wb").write(bytes(data))


def check(path, magic):
    """Asserts that PATH carries a good header of the kind MAGIC names."""
    data = bytearray(open(path, "rb").read())
    assert bytes(data[:16]) == magic, f"{path}: magic {bytes(data[:16])!r}"
    assert int.from_bytes(data[16:20], "little") == VERSIONS[magic], "format version"
    assert int.from_bytes(data[20:24], "little") == HEADER, "header size"
    assert int.from_bytes(data[24:32], "little") == len(data), "file size"
    assert not any(data[40:HEADER]), "header padding is not zero"
    assert data[HEADER:HEADER + 8] == b"\x89HDF\r\n\x1a\n", "no HDF5 superblock after the header"
    stored = int.from_bytes(data[32:40], "little")
    data[32:40] = bytes(8)
    assert stored == checksum64(data), "whole-file checksum"


if __name__ == "__main__":
    for p in sys.argv[1:]:
        seal(p)
