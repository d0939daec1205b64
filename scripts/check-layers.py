#!/usr/bin/env python3
"""Checks that dependencies inside each crate run one way (ARCHITECTURE.md, "Layers").

For every Rust file it reads the paths the code names (`crate::a::b`, `super::x`,
`self::x`; comments are skipped) and resolves each to a module of the crate. It fails
when
  - a module uses one of a higher layer, or one of the same layer outside its own
    folder (the layers are listed below, highest first), or
  - modules use each other in a cycle.
Run by scripts/test.sh; prints each offending import with its file and line.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each crate: its source folder and its layers, highest first. A layer is a list of
# module prefixes ("domain" matches domain and domain::*). A module may use modules
# of lower layers, and modules of its own layer that share its first path segment.
CRATES = {
    "server": ("server/src", [
        ["main", "lib", "fuzzing"],
        ["http"],
        ["stomp"],
        ["domain"],
        ["state"],
        ["realtime", "auth"],
        ["limits"],
        ["error", "net"],
        ["store"],
        ["config", "clock", "blocklist"],
    ]),
    "sdk": ("src", [
        ["lib"],
        ["wasm"],
        ["core"],
    ]),
    "protocol": ("protocol/src", [
        ["lib"],
        ["request", "resource"],
        ["codec", "thread"],
        ["frame", "destination"],
        ["header", "event", "error", "time"],
    ]),
}

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)::((?:[A-Za-z_][A-Za-z0-9_]*::)*)\{([^}]*)\}", re.S)


def modules(src):
    """Module path (tuple) -> file, for every .rs file under src."""
    out = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts == ["lib"] or parts == ["main"]:
                key = tuple(parts)
            else:
                key = tuple(parts)
            out[key] = rel
    return out


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return "\n".join(re.sub(r"//.*", "", line) for line in text.split("\n"))


def resolve(mods, here, kind, segments):
    """The module a path names (the longest known prefix), or None."""
    if kind == "crate":
        base = ()
    elif kind == "self":
        base = here
    else:  # super
        base = here[:-1]
    path = base + tuple(segments)
    for n in range(len(path), 0, -1):
        if path[:n] in mods:
            return path[:n]
    return None


def layer_of(layers, module):
    name = module[0] if module else "lib"
    for i, layer in enumerate(layers):
        if name in layer:
            return i
    return None


def check(crate, src, layers):
    src = os.path.join(ROOT, src)
    mods = modules(src)
    problems, edges = [], {}
    for mod, rel in sorted(mods.items()):
        here = mod if not rel.endswith(("lib.rs", "main.rs")) else ()
        text = strip_comments(open(os.path.join(src, rel), encoding="utf-8").read())
        found = []
        for m in PATH.finditer(text):
            found.append((m.start(), m.group(1), m.group(2).split("::")[1:]))
        for m in USE_GROUP.finditer(text):
            prefix = [p for p in m.group(2).split("::") if p]
            for item in re.split(r"[,\s]+", m.group(3)):
                item = item.split("::")[0].strip()
                if item and item != "self":
                    found.append((m.start(), m.group(1), prefix + [item]))
                elif item == "self":
                    found.append((m.start(), m.group(1), prefix))
        for at, kind, segments in found:
            target = resolve(mods, here, kind, segments)
            if target is None or target == mod or (mod and target == mod[: len(target)]):
                continue
            line = text.count("\n", 0, at) + 1
            edges.setdefault(mod, set()).add(target)
            lf, lt = layer_of(layers, mod), layer_of(layers, target)
            if lf is None or lt is None:
                problems.append(f"{crate}: {rel}:{line}: {'::'.join(mod or ('lib',))} or {'::'.join(target)} is in no layer")
            elif lt < lf or (lt == lf and (mod[:1] != target[:1])):
                problems.append(
                    f"{crate}: {rel}:{line}: {'::'.join(mod or ('lib',))} (layer {lf}) uses "
                    f"{'::'.join(target)} (layer {lt})")
    problems += cycles(crate, edges)
    return problems, len(mods)


def cycles(crate, edges):
    """Tarjan's strongly connected components of more than one module."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(f"{crate}: import cycle among " + ", ".join(sorted("::".join(c) for c in comp)))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main():
    all_problems = []
    for crate, (src, layers) in CRATES.items():
        problems, n = check(crate, src, layers)
        all_problems += problems
        print(f"layers: {crate}: {n} modules, {len(problems)} problem(s)")
    for p in all_problems:
        print("  " + p)
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
