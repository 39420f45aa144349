#!/usr/bin/env python3
"""Writes a small, highly repetitive pre-tokenised JSONL dataset: a few fixed
'sentences' of token ids repeated in a deterministic order, so that a model
can learn it and the loss must fall.  Some records carry labels with -100 on
their first tokens (a prompt that does not count).
usage: make_repeated_jsonl.py OUT.jsonl [N_DOCS] [VOCAB]"""
import json
import random
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
vocab = int(sys.argv[3]) if len(sys.argv) > 3 else 256
rng = random.Random(42)
sentences = [[rng.randrange(3, vocab) for _ in range(rng.randrange(12, 40))] for _ in range(6)]
with open(out, "w") as f:
    for i in range(n):
        ids = [1] + sentences[rng.randrange(len(sentences))] + [2]
        rec = {"input_ids": ids}
        if i % 3 == 0:
            rec["labels"] = [-100] * 4 + ids[4:]
        f.write(json.dumps(rec) + "\n")
