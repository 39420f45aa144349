#!/usr/bin/env python3
"""Edits a yieldtune snapshot with h5py and seals it again (a new whole-file
checksum in the format-2 header), so that the result is well formed and only its
meaning is wrong.  The header is written here from checkpoint.h's description,
not by our C code.

usage: snapshot_edit.py IN OUT EDIT
EDIT is one of:
  reseal                        no change (control)
  int:NAME=VALUE                set int64 root attribute NAME
  float:NAME=VALUE              set float64 root attribute NAME
  str:NAME=TEXT                 set root attribute NAME to a fixed-length string
  vlen:NAME                     rewrite root attribute NAME as a variable-length string
  json:NAME:KEY=JSONVALUE       set KEY of the JSON object in string attribute NAME
  elem:TENSOR=VALUE             set element 0 of TENSOR (hash_fnv1a64 updated)
  extra:TENSOR                  add a float32 [2, 2] tensor (Fletcher32, hash)
  drop:TENSOR                   delete TENSOR
  format1                       strip the header (a format-1 style bare HDF5 file)"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seal import HEADER, seal  # noqa: E402  (same folder)

MAGIC = b"\x89yieldtune-snap\n"


def fnv1a64(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fixed_str(f, name, text):
    raw = text.encode("utf-8") + b"\0"
    t = h5py.h5t.C_S1.copy()
    t.set_size(len(raw))
    t.set_strpad(h5py.h5t.STR_NULLTERM)
    t.set_cset(h5py.h5t.CSET_UTF8)
    if name in f.attrs:
        del f.attrs[name]
    f.attrs.create(name, np.frombuffer(raw, dtype=f"S{len(raw)}")[0], dtype=h5py.Datatype(t))


def text_of(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def main():
    src, dst, edit = sys.argv[1:4]
    if edit == "format1":
        open(dst, "wb").write(open(src, "rb").read()[HEADER:])
        return 0
    shutil.copy(src, dst)
    kind, _, arg = edit.partition(":")
    with h5py.File(dst, "r+") as f:
        if kind == "int":
            name, v = arg.split("=", 1)
            f.attrs.create(name, np.int64(int(v)), dtype="<i8")
        elif kind == "float":
            name, v = arg.split("=", 1)
            f.attrs.create(name, np.float64(float(v)), dtype="<f8")
        elif kind == "str":
            name, v = arg.split("=", 1)
            fixed_str(f, name, v)
        elif kind == "vlen":
            v = text_of(f.attrs[arg])
            del f.attrs[arg]
            f.attrs.create(arg, v, dtype=h5py.string_dtype("utf-8"))
        elif kind == "json":
            name, rest = arg.split(":", 1)
            key, v = rest.split("=", 1)
            obj = json.loads(text_of(f.attrs[name]))
            obj[key] = json.loads(v)
            fixed_str(f, name, json.dumps(obj, separators=(",", ":"), sort_keys=True))
        elif kind == "elem":
            name, v = arg.split("=", 1)
            d = f[name]
            a = d[()]
            a.flat[0] = np.float32(float(v))
            d[...] = a
            d.attrs.create("hash_fnv1a64", np.uint64(fnv1a64(a.astype("<f4").tobytes())),
                           dtype="<u8")
        elif kind == "extra":
            a = np.ones((2, 2), dtype="<f4")
            d = f.create_dataset(arg, data=a, chunks=(2, 2), fletcher32=True)
            d.attrs.create("hash_fnv1a64", np.uint64(fnv1a64(a.tobytes())), dtype="<u8")
        elif kind == "drop":
            del f[arg]
        elif kind != "reseal":
            print(f"snapshot_edit: unknown edit {edit}", file=sys.stderr)
            return 2
    seal(dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
