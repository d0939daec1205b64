#!/usr/bin/env python3
"""Rewrites citations of the protocol and API references to the repository's docs:
"PROTOCOL.md 9.2" -> "docs/protocol.md §9.2", "API.md 13" -> "docs/api.md §13", and a
bare "PROTOCOL.md"/"API.md" -> the docs path. Idempotent."""
import re, subprocess, sys

files = subprocess.run(["git", "ls-files"], capture_output=True, text=True).stdout.split()
exts = (".rs", ".js", ".mjs", ".ts", ".sh", ".md", ".toml", ".json", ".html")
skip = ("docs/protocol.md", "docs/api.md")
num = re.compile(r"\b(PROTOCOL|API)\.md(\s+)((?:quirk\s+)?)(\d+(?:\.\d+)*)")
bare = re.compile(r"(?<![/\w])(PROTOCOL|API)\.md\b")
changed = 0
for f in files:
    if not f.endswith(exts) or f.startswith(skip) or "/out/" in f:
        continue
    try:
        s = open(f, encoding="utf-8").read()
    except (UnicodeDecodeError, FileNotFoundError):
        continue
    t = num.sub(lambda m: f"docs/{m.group(1).lower()}.md{m.group(2)}§{'16.' if m.group(3) else ''}{m.group(4)}", s)
    t = bare.sub(lambda m: f"docs/{m.group(1).lower()}.md", t)
    if t != s:
        open(f, "w", encoding="utf-8").write(t)
        changed += 1
print(f"{changed} files updated", file=sys.stderr)
