#!/usr/bin/env python3
"""File-level call graph of object files, from nm: file A -> file B when A leaves
undefined a symbol that B defines.  Prints every cycle (strongly connected
component of more than one file) and, with --edges, the graph itself.
Exit status 1 when there is a cycle.

    file_cycles.py [--edges] build/datasets/template/*.o
"""
import os
import subprocess
import sys


def symbols(path):
    out = subprocess.run(["nm", "-P", path], check=True, capture_output=True,
                         text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        name, kind = f[0], f[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():  # global definition (T, D, B, R, C, W, V ...)
            defined.add(name)
    return defined, undefined


def sccs(nodes, edges):
    """Tarjan, iterative."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def main(argv):
    show_edges = "--edges" in argv
    files = [a for a in argv if a != "--edges"]
    if not files:
        print(__doc__, file=sys.stderr)
        return 2
    name = {f: os.path.splitext(os.path.basename(f))[0] for f in files}
    syms = {f: symbols(f) for f in files}
    owner = {}
    for f, (d, _) in syms.items():
        for s in d:
            owner[s] = f
    edges = {f: set() for f in files}
    via = {}
    for f, (_, u) in syms.items():
        for s in u:
            g = owner.get(s)
            if g and g != f:
                edges[f].add(g)
                via.setdefault((f, g), []).append(s)
    if show_edges:
        for f in sorted(files, key=lambda x: name[x]):
            print(f"{name[f]} -> {' '.join(sorted(name[g] for g in edges[f]))}")
    cycles = [c for c in sccs(files, edges) if len(c) > 1]
    for c in cycles:
        print(f"cycle of {len(c)} files: {' '.join(sorted(name[f] for f in c))}")
        for f in c:
            for g in sorted(edges[f] & set(c), key=lambda x: name[x]):
                print(f"  {name[f]} -> {name[g]}: {' '.join(sorted(via[(f, g)])[:6])}")
    if not cycles:
        print(f"no cycles among {len(files)} files")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
