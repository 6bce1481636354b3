#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""exported_symbols.py — libweft.so exports exactly what include/ declares.

    exported_symbols.py --nm NM --library LIBWEFT_SO --include INCLUDE_DIR
                        [--backend SRC_DIR] [--exclude weft/mpi.h] [--only weft/mpi.h]

The library is built with hidden visibility, and WEFT_API (weft/export.h)
marks each public declaration as exported.  This test fails, listing the
differences, unless

  - the functions the shared library exports (nm -D --defined-only) are
    exactly the functions the public headers declare, and its exported
    variables exactly the variables they declare (extern): an internal
    name leaking out is an error, and so is a declared one the library
    does not export (a missing WEFT_API, or a declaration never defined);
  - every such declaration carries WEFT_API;
  - with --backend, the functions src/'s internal headers mark
    WEFT_BACKEND (backend.h: what the weft-mpi library needs from the
    core) are exported too, and nothing else of src/.

--exclude leaves a header out (weft/mpi.h is weft-mpi's, not libweft's);
--only checks one header alone (libweft-mpi.so against weft/mpi.h).

The declarations are read the way the reference manual reads them, by
docs/doxygen-filter.py's scanner: the same parser, so the manual and this
test agree on what is public.  Exits 77 (skipped) when the library is not
an ELF shared object or nm cannot list its dynamic symbols.
"""

import argparse
import importlib.util
import os
import re
import subprocess
import sys

SKIP = 77
# Names the toolchain adds to every shared object or sanitized build.
TOOLCHAIN = re.compile(r"_init|_fini|_edata|_end|__bss_start"
                       r"|__(asan|ubsan|tsan|sanitizer|odr_asan)\S*")
FUNCTION_TYPES = "TWi"
VARIABLE_TYPES = "DBRVGSu"


def load_scanner():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, os.pardir, "docs", "doxygen-filter.py")
    spec = importlib.util.spec_from_file_location("doxygen_filter", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Scan


def headers(include_dir):
    out = []
    for root, _, files in os.walk(include_dir):
        out += [os.path.join(root, f) for f in files if f.endswith(".h")]
    return sorted(out)


def declarations(include_dir, scan_class, keep=lambda where: True, mark="WEFT_API"):
    """{name: (header:line, marked)} for the functions and the variables
    the public headers declare; marked: the declaration has WEFT_API."""
    functions, variables = {}, {}
    for path in headers(include_dir):
        if not keep(os.path.relpath(path, include_dir)):
            continue
        with open(path, encoding="utf-8") as f:
            scan = scan_class(f.read())
        where = os.path.relpath(path, include_dir)
        for item in scan.items:
            code = scan.code_of(item)
            name = scan.function_name(item)
            if name and not re.match(r"\s*static\b", code):
                table = functions
            else:
                m = re.match(r"\s*(?:WEFT_API\s+)?extern\s[^;(]*?\b([A-Za-z_]\w*)\s*;", code) \
                    if item["kind"] == "decl" else None
                if not m:
                    continue
                name, table = m.group(1), variables
            if mark != "WEFT_API" and mark not in code:
                continue  # an internal header: only its marked functions count
            table[name] = ("%s:%d" % (where, item["line"] + 1), mark in code)
    return functions, variables


def is_elf_shared_object(path):
    try:
        with open(path, "rb") as f:
            head = f.read(18)
    except OSError:
        return False
    if len(head) < 18 or head[:4] != b"\x7fELF":
        return False
    order = "little" if head[5] == 1 else "big"
    return int.from_bytes(head[16:18], order) == 3  # e_type ET_DYN


def exported(nm, library):
    """(functions, variables) the library exports, or None if nm cannot say."""
    try:
        run = subprocess.run([nm, "-D", "--defined-only", "-P", library],
                             capture_output=True, text=True)
    except OSError:
        return None
    if run.returncode != 0:
        return None
    functions, variables = set(), set()
    for line in run.stdout.splitlines():
        fields = line.split()
        if len(fields) < 2 or TOOLCHAIN.fullmatch(fields[0]):
            continue
        name = fields[0].split("@")[0]
        if fields[1] in FUNCTION_TYPES:
            functions.add(name)
        elif fields[1] in VARIABLE_TYPES:
            variables.add(name)
    return functions, variables


def compare(what, exported_names, declared):
    problems = []
    for name in sorted(exported_names - declared.keys()):
        problems.append("exported but not declared in include/ (an internal name leaking "
                        "out: give it hidden visibility): %s %s" % (what, name))
    for name in sorted(declared.keys() - exported_names):
        problems.append("%s: declared but not exported (no WEFT_API, or never defined): "
                        "%s %s" % (declared[name][0], what, name))
    for name, (where, marked) in sorted(declared.items()):
        if not marked:
            problems.append("%s: public %s %s has no WEFT_API" % (where, what, name))
    return problems


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nm", default="nm")
    parser.add_argument("--library", required=True)
    parser.add_argument("--include", required=True)
    parser.add_argument("--backend")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--only")
    args = parser.parse_args(argv[1:])
    if not is_elf_shared_object(args.library):
        print("skipped: %s is not an ELF shared library" % args.library)
        return SKIP
    symbols = exported(args.nm, args.library)
    if symbols is None:
        print("skipped: %s -D cannot list the dynamic symbols of %s" % (args.nm, args.library))
        return SKIP
    scan = load_scanner()
    keep = (lambda where: where == args.only) if args.only else \
        (lambda where: where not in args.exclude)
    functions, variables = declarations(args.include, scan, keep)
    if args.backend:
        backend, _ = declarations(args.backend, scan, mark="WEFT_BACKEND")
        functions.update(backend)
    if not functions:
        print("no function declarations found under %s: the scanner is broken" % args.include)
        return 1
    problems = compare("function", symbols[0], functions) + \
        compare("variable", symbols[1], variables)
    for p in problems:
        print(p)
    if problems:
        print("%d problem(s): the library's exports and include/'s declarations differ"
              % len(problems))
        return 1
    print("%s exports exactly the %d functions and %d variable(s) declared"
          % (os.path.basename(args.library), len(functions), len(variables)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
