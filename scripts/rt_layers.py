#!/usr/bin/env python3
"""Checks the layering of `crates/myriad/src/rt` that its module doc promises.

1. `rt` imports nothing from the public layer (`thread`, `sync`, `net`, `fs`,
   `io`, `compat`, `blocking`), outside its unit tests.
2. No two files of `rt` import each other, except the core pair `task.rs` and
   `wait/mod.rs` (a thread holds its joiner's `Wake`; a `Wake` names a
   thread) and a module with its own children (`wait/mod.rs` and
   `wait/suspend.rs`, say), which Rust treats as one unit.

It reads `use` paths and `super::`/`crate::rt::` paths in code (comments and
`#[cfg(test)] mod tests` left out): a textual check, so it is fast and needs
no build. Run it from the repository root: `python3 scripts/rt_layers.py`.
It prints the dependency of each file with `-v`.
"""

import os
import re
import sys

RT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "myriad", "src", "rt")
PUBLIC_LAYER = ("thread", "sync", "net", "fs", "io", "compat", "blocking")
ALLOWED_PAIRS = {("task", "wait")}


def module_name(path):
    """`wait/mod.rs` -> `wait`, `wait/state.rs` -> `wait/state`, `worker.rs` -> `worker`."""
    name = path[:-3]
    return name[:-4] if name.endswith("/mod") else name


def code_of(text):
    """The file without its unit tests and comments."""
    tests = re.search(r"#\[cfg\(test\)\]\s*mod tests", text)
    if tests:
        text = text[: tests.start()]
    return re.sub(r"//[^\n]*", "", text)


def main():
    sources = {}
    for folder, _, names in os.walk(RT):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.relpath(os.path.join(folder, name), RT)
                with open(os.path.join(folder, name)) as f:
                    sources[path] = code_of(f.read())
    modules = {module_name(path): path for path in sources}

    deps = {}
    problems = []
    for path, code in sources.items():
        this = module_name(path)
        is_dir_module = path.endswith("mod.rs")
        parent = this.rsplit("/", 1)[0] if "/" in this else ""
        # What `super::` means here: the parent module of this one.
        super_of = (this.rsplit("/", 1)[0] if "/" in this else "") if is_dir_module else parent
        found = set()

        def add(segments):
            for k in range(len(segments), 0, -1):
                candidate = "/".join(segments[:k])
                if candidate in modules:
                    if candidate != this:
                        found.add(candidate)
                    return

        for m in re.finditer(r"crate::(" + "|".join(PUBLIC_LAYER) + r")\b", code):
            line = code[: m.start()].count("\n") + 1
            problems.append(f"rt/{path}:{line}: imports crate::{m.group(1)} (rt must not use the public layer)")

        pattern = r"(crate::rt|(?:super::)+)((?:[a-z_]+::)*)(\{[^}]*\}|[A-Za-z_]+)"
        for m in re.finditer(pattern, code):
            head, middle, tail = m.group(1), m.group(2), m.group(3)
            if head == "crate::rt":
                base = []
            else:
                ups = head.count("super")
                base = super_of.split("/") if super_of else []
                base = base[: len(base) - (ups - 1)] if ups > 1 else base
            segments = [s for s in middle.split("::") if s]
            if tail.startswith("{"):
                for item in re.split(r"[,\s]+", tail[1:-1]):
                    item = item.split("::")[0]
                    if item:
                        add(base + segments + [item])
            else:
                add(base + segments + [tail])
        if is_dir_module:
            for child in re.findall(r"^\s*(?:pub(?:\([a-z]+\))? )?mod ([a-z_]+);", code, re.M):
                if re.search(r"(?<![:\w])" + child + r"::", code):
                    add(this.split("/") + [child])
        deps[this] = found

    def family(a, b):
        return a.startswith(b + "/") or b.startswith(a + "/")

    for a in sorted(deps):
        for b in sorted(deps[a]):
            if a < b and a in deps.get(b, ()) and not family(a, b) and (a, b) not in ALLOWED_PAIRS:
                problems.append(f"rt/{modules[a]} and rt/{modules[b]} import each other")

    if "-v" in sys.argv:
        for a in sorted(deps):
            print(f"{a} -> {', '.join(sorted(deps[a]))}")
    for problem in problems:
        print(problem)
    if problems:
        print("rt_layers: the layering in crates/myriad/src/rt/mod.rs's map no longer holds")
        return 1
    print(f"rt_layers: {len(deps)} files of rt, layered as the map says")
    return 0


if __name__ == "__main__":
    sys.exit(main())
