#!/usr/bin/env python3
"""Reference for `yieldtune eval`: the mean loss over every window of each
dataset by transformers loading the same GGUF (fp32, eager attention, tied
lm_head put back as tests/tools/gguf_reference.py does), optionally with a PEFT
adapter, the windows cut here from the HDF5 file itself as datasets/datasets.h
specifies packing with EOS: the documents in file order, each followed by the
model's EOS (counted), window w = stream[w*S .. w*S + S], inputs its first S
tokens, targets its last S, a target counted when its loss_mask bit is 1.

usage: eval_reference.py FILE.gguf SEQ_LEN EVAL.json [ADAPTER_DIR]
EVAL.json: `yieldtune eval --json` output; every dataset's window count and
counted tokens must be equal, its loss within 1e-4 relative."""
import json
import os
import sys

import h5py
import numpy as np
import torch
from gguf import GGUFReader
from transformers import AutoModelForCausalLM

torch.set_num_threads(1)
path, S, result = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
adapter = sys.argv[4] if len(sys.argv) > 4 else None
r = GGUFReader(path)
f = r.fields["tokenizer.ggml.eos_token_id"]
eos = int(f.parts[f.data[0]][0])
model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)),
                                             gguf_file=os.path.basename(path),
                                             torch_dtype=torch.float32, attn_implementation="eager")
if all(t.name != "output.weight" for t in r.tensors):
    model.lm_head.weight = model.model.embed_tokens.weight
if adapter:
    from peft import PeftModel
    model = PeftModel.from_pretrained(model, adapter)
model.eval()
bad = 0
for d in result["datasets"]:
    with h5py.File(d["path"], "r") as h:
        tokens, mask, off = h["tokens"][:], h["loss_mask"][:], h["doc_offsets"][:]
    st, sm = [], []
    for i in range(len(off) - 1):
        st += list(tokens[off[i]:off[i + 1]]) + [eos]
        sm += list(mask[off[i]:off[i + 1]]) + [1]
    st, sm = np.array(st, dtype=np.int64), np.array(sm, dtype=np.float64)
    nw = (len(st) - 1) // S
    total, counted = 0.0, 0.0
    for w0 in range(0, nw, 8):
        ws = range(w0, min(nw, w0 + 8))
        inp = torch.tensor(np.stack([st[w * S:w * S + S] for w in ws]))
        tg = torch.tensor(np.stack([st[w * S + 1:w * S + S + 1] for w in ws]))
        wt = torch.tensor(np.stack([sm[w * S + 1:w * S + S + 1] for w in ws]))
        with torch.no_grad():
            logits = model(input_ids=inp).logits.double()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.flatten(),
                                                reduction="none")
        total += float((nll * wt.flatten()).sum())
        counted += float(wt.sum())
    loss = total / counted
    err = abs(d["loss"] - loss) / abs(loss)
    ok = d["windows"] == nw and d["counted_tokens"] == counted and err < 1e-4
    bad += not ok
    print(f"{'ok  ' if ok else 'DIFF'} {d['path']}: {nw} windows, {counted:.0f} counted tokens, "
          f"transformers {loss:.6f}, yieldtune {d['loss']:.6f} ({d['windows']} windows, "
          f"{d['counted_tokens']} counted): relative error {err:.1e}")
sys.exit(1 if bad else 0)
