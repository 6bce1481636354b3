#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fix-man-pages.py MAN3DIR — tidy the man pages Doxygen wrote for weft.

Doxygen names a header's page after the file alone ("lock.h.3") and, with
MAN_LINKS, writes a link page for every member it documents, struct fields
included ("name.3", "size.3") along with a page for the include directory.
Installed in a shared man3 directory those names would clash with other
packages' pages, so this keeps only weft's own names:

  - a header's page is renamed after its path: weft/lock.h -> weft_lock.h.3
    (weft.h keeps weft.h.3), and the links to it follow;
  - link and other pages whose names do not start with weft_ / WEFT_ (struct
    fields, the directory) are removed.

`man weft_lock_acquire` then shows weft/lock.h's page at that function.
"""

import os
import re
import sys


def title(path):
    with open(path, encoding="utf-8") as f:
        m = re.match(r'\.TH "([^"]*)"', f.read(4096))
    return m.group(1) if m else None


def main(man3):
    pages = sorted(os.listdir(man3))
    renamed = {}
    for name in pages:
        path = os.path.join(man3, name)
        t = title(path)
        if name.endswith(".h.3") and t and t.endswith(".h") and "/" not in t.lstrip("/"):
            continue  # weft.h: already its own name
        if name.endswith(".h.3") and t and re.fullmatch(r"weft/[\w.]+\.h", t):
            new = t.replace("/", "_") + ".3"
            os.rename(path, os.path.join(man3, new))
            renamed[name] = new
    for name in sorted(os.listdir(man3)):
        path = os.path.join(man3, name)
        if not re.match(r"(weft|WEFT)[_.]", name):
            os.remove(path)
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        m = re.fullmatch(r"\.so man3/(\S+)\n?", text)
        if m and m.group(1) in renamed:
            with open(path, "w", encoding="utf-8") as f:
                f.write(".so man3/%s\n" % renamed[m.group(1)])
        elif m and not os.path.exists(os.path.join(man3, m.group(1))):
            os.remove(path)  # a link to a page removed above
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: fix-man-pages.py MAN3DIR\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
