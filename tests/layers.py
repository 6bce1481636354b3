# SPDX-License-Identifier: MIT
"""The layers hold: no file of src/ includes a header of a higher layer, and
no two units include each other, directly or through others.

The layers are the table in docs/architecture.md (layer number first, then
the files in backquotes), so the document and the code cannot drift apart.
A unit is x.c with its headers (x.h, x_internal.h, x_impl.h) and the public
header weft/x.h; a header with no .c of its name is a unit of its own.

Usage: python3 layers.py SOURCE_DIR
"""
import fnmatch
import os
import re
import sys

ROW = re.compile(r"^\|\s*(\d+)\s+[a-z]+\s*\|([^|]*)\|")
NAME = re.compile(r"`([^`]+)`")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_layers(root):
    """[(pattern, layer)] from the architecture document's table."""
    patterns = []
    with open(os.path.join(root, "docs", "architecture.md"), encoding="utf-8") as doc:
        for line in doc:
            row = ROW.match(line)
            if row:
                for name in NAME.findall(row.group(2)):
                    patterns.append((name.replace("src/", ""), int(row.group(1))))
    if not patterns:
        sys.exit("layers: no layer table found in docs/architecture.md")
    return patterns


def source_files(root):
    src = os.path.join(root, "src")
    for folder, _, names in os.walk(src):
        for name in names:
            if name.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(folder, name), src)


def unit_of(path, sources):
    """The .c file a source or header belongs to (itself for a .c file); a
    header with no .c of its name (list.h, a shared state header) is a unit
    of its own."""
    if path.startswith("platform/"):
        return "platform/"
    stem = os.path.splitext(path)[0]
    for suffix in ("_internal", "_impl"):
        if stem.endswith(suffix) and stem[: -len(suffix)] + ".c" in sources:
            return stem[: -len(suffix)] + ".c"
    return stem + ".c" if stem + ".c" in sources else path


def layer_of(unit, patterns):
    for pattern, layer in patterns:
        if unit == pattern or fnmatch.fnmatch(unit, pattern):
            return layer
    return None


def included_unit(include, includer, sources):
    """The unit an #include "..." names, or None for a header with no unit
    (a public header of definitions only, such as weft/status.h's peers)."""
    if include.startswith("weft/"):
        unit = os.path.splitext(include[len("weft/"):])[0] + ".c"
        return unit if unit in sources else None
    here = os.path.dirname(includer)
    path = os.path.normpath(os.path.join(here, include))
    if path not in sources:
        path = include
    return unit_of(path, sources) if path in sources else None


def find_cycle(edges):
    """One cycle of the unit graph as a list, or None."""
    state = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def main(root):
    patterns = read_layers(root)
    sources = set(source_files(root))
    problems, edges = [], {}
    for path in sorted(sources):
        unit = unit_of(path, sources)
        layer = layer_of(unit, patterns)
        if layer is None:
            problems.append(f"src/{path}: its unit {unit} is in no layer of docs/architecture.md")
            continue
        with open(os.path.join(root, "src", path), encoding="utf-8") as f:
            text = f.read()
        for include in INCLUDE.findall(text):
            target = included_unit(include, path, sources)
            if target is None or target == unit:
                continue
            edges.setdefault(unit, set()).add(target)
            target_layer = layer_of(target, patterns)
            if target_layer is not None and target_layer > layer:
                problems.append(f"src/{path} (layer {layer}) includes \"{include}\" "
                                f"of {target} (layer {target_layer})")
    cycle = find_cycle(edges)
    if cycle:
        problems.append("units include each other: " + " -> ".join(cycle))
    for problem in problems:
        print("layers:", problem)
    if problems:
        return 1
    print(f"layers: {len(sources)} files in {len({unit_of(p, sources) for p in sources})} units hold")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
