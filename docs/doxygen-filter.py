#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""doxygen-filter.py — turn weft's plain header comments into Doxygen's.

weft's headers document every declaration with a plain C comment directly
above it, as ordinary C code does.  Doxygen only reads /** ... */ comments,
so the Doxyfile runs each header through this filter (INPUT_FILTER), which
rewrites the comments on the fly and leaves the headers alone:

  - the comment at the top of a header (before any declaration) becomes the
    file's documentation (its "weft/x.h — " prefix dropped: Doxygen names
    the file itself);
  - a comment directly above a declaration or a #define (no blank line
    between) documents it; when several declarations follow it with no
    blank line between them, they share it (a Doxygen member group whose
    documentation is given to every member);
  - inside a struct or enum, a comment after a member documents that
    member, and a comment on its own line documents the member below it;
  - "/* ---- name ---- */" section rulers stay plain comments.

A public function (a prototype whose name does not end in "_") without such
a comment gets a marker Doxygen reports as an error, so that with
WARN_AS_ERROR the manual does not build until the function is documented;
the filter also says so on stderr.  `doxygen-filter.py --check FILE...`
only checks, for use outside Doxygen.

The output has exactly the lines of the input, so Doxygen's messages point
at the right lines of the real header.
"""

import bisect
import re
import sys

# Doxygen reports an unknown command as an error: this is the marker.
MARKER = "/** @public_function_without_a_comment */ "
RULER = re.compile(r"/\*\s*-{3,}")
# The licence line atop every file: not documentation.
SPDX = re.compile(r"/\*\s*SPDX-License-Identifier:")
FILE_PREFIX = re.compile(r"/\*+\s*[\w./]+\.h\s+(?:—|--?)\s+")
# A column gap: 3 spaces, or 2 not after the end of a sentence.
COLUMNS = re.compile(r"\S {3,}\S|[^\s.?!:;]  \S")
DOC_OPENERS = ("/**", "/*!", "///", "//!")


class Scan:
    """The comments and top-level items (declarations, directives) of a
    header, with offsets into its text."""

    def __init__(self, text):
        self.text = text
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]
        self.comments = []
        self.items = []
        self._scan()

    def line(self, offset):
        return bisect.bisect_left(self.newlines, offset)

    def line_start(self, line):
        return 0 if line == 0 else self.newlines[line - 1] + 1

    def line_end(self, line):
        return self.newlines[line] if line < len(self.newlines) else len(self.text)

    def line_text(self, line):
        return self.text[self.line_start(line):self.line_end(line)]

    def blank(self, line):
        return line > len(self.newlines) or not self.line_text(line).strip()

    # ---- scanning ---------------------------------------------------------

    def _comment_end(self, i):
        if self.text.startswith("//", i):
            j = self.text.find("\n", i)
            return len(self.text) if j < 0 else j
        j = self.text.find("*/", i + 2)
        return len(self.text) if j < 0 else j + 2

    def _record_comment(self, start, end, depth, in_stmt, in_directive):
        text = self.text
        before = text[self.line_start(self.line(start)):start]
        after = text[end:self.line_end(self.line(end))]
        self.comments.append(dict(
            start=start, end=end, depth=depth, in_stmt=in_stmt,
            in_directive=in_directive, code_before=bool(before.strip()),
            before=before, code_after=bool(after.strip()),
            line=self.line(start), end_line=self.line(max(start, end - 1))))

    def _directive_end(self, i, depth, in_stmt):
        """Skip one preprocessor line (with continuations) from '#'."""
        text = self.text
        n = len(text)
        while i < n:
            if text.startswith("/*", i) or text.startswith("//", i):
                j = self._comment_end(i)
                self._record_comment(i, j, depth, in_stmt, True)
                i = j
            elif text[i] == "\\" and text.startswith("\n", i + 1):
                i += 2
            elif text[i] == "\n":
                return i
            else:
                i += 1
        return n

    def _skip_conditional(self, i):
        """Skip from an #if line to the end of its matching #endif."""
        level = 0
        line = self.line(i)
        while line <= len(self.newlines):
            words = re.match(r"\s*#\s*(\w*)", self.line_text(line))
            if words:
                word = words.group(1)
                level += word in ("if", "ifdef", "ifndef")
                level -= word == "endif"
                if level == 0:
                    return self.line_end(line)
            line += 1
        return len(self.text)

    def _scan(self):
        text = self.text
        n = len(text)
        i = 0
        depth = paren = 0
        stmt = None          # start of the open top-level statement
        body_open = None     # where its first '{' was
        line_start = True
        while i < n:
            c = text[i]
            if c == "\n":
                line_start = True
                i += 1
            elif c in " \t\r\f\v":
                i += 1
            elif text.startswith("/*", i) or text.startswith("//", i):
                j = self._comment_end(i)
                self._record_comment(i, j, depth, stmt is not None, False)
                i = j
            elif c == "#" and line_start:
                j = self._directive_end(i, depth, stmt is not None)
                m = re.match(r"#\s*(\w*)\s*(\w*)", text[i:j])
                word, name = m.group(1), m.group(2)
                if stmt is None:
                    if word in ("if", "ifdef") and "__cplusplus" in text[i:j]:
                        j = self._skip_conditional(i)
                        kind = "cplusplus"
                    else:
                        kind = "define" if word == "define" else "directive"
                    self._add_item(kind, i, j, name)
                i = j
            else:
                line_start = False
                if stmt is None:
                    stmt = i
                if c in "\"'":
                    i = self._literal_end(i)
                    continue
                if c == "(":
                    paren += 1
                elif c == ")":
                    paren -= 1
                elif c == "{":
                    if depth == 0 and body_open is None:
                        body_open = i
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0 and text[stmt:body_open].rstrip().endswith(")"):
                        self._add_item("decl", stmt, i + 1)  # a function body
                        stmt = body_open = None
                elif c == ";" and depth == 0 and paren == 0:
                    self._add_item("decl", stmt, i + 1)
                    stmt = body_open = None
                i += 1

    def _literal_end(self, i):
        quote = self.text[i]
        i += 1
        while i < len(self.text) and self.text[i] not in (quote, "\n"):
            i += 2 if self.text[i] == "\\" else 1
        return i + 1

    def _add_item(self, kind, start, end, name=""):
        self.items.append(dict(kind=kind, start=start, end=end, name=name,
                               line=self.line(start),
                               end_line=self.line(max(start, end - 1))))

    # ---- what the items are ------------------------------------------------

    def code_of(self, item):
        """The item's text without its comments and directive lines."""
        text = self.text
        out = list(text[item["start"]:item["end"]])
        for c in self.comments:
            if item["start"] <= c["start"] < item["end"]:
                for k in range(c["start"], min(c["end"], item["end"])):
                    out[k - item["start"]] = " "
        lines = "".join(out).split("\n")
        return "\n".join(l for l in lines if not l.lstrip().startswith("#"))

    def function_name(self, item):
        """The name of the function an item declares, or None."""
        if item["kind"] != "decl":
            return None
        code = self.code_of(item)
        if re.match(r"\s*typedef\b", code) or "(" not in code:
            return None
        m = re.search(r"([A-Za-z_]\w*)\s*\(", code)
        if not m or m.group(1) in ("__attribute__", "_Alignas", "__declspec"):
            return None
        before = code[:m.start()].rstrip()
        if before.endswith("("):  # (*name)(...): a function pointer
            return None
        return m.group(1)


class Filter:
    def __init__(self, path, text):
        self.path = path
        self.scan = Scan(text)
        self.edits = []      # (offset, characters to drop, text to insert)
        self.documented = set()   # ids of documented items
        self.undocumented = []    # (line, name)

    def edit(self, offset, drop, insert):
        self.edits.append((offset, drop, insert))

    def run(self):
        first_item = self.scan.items[0]["start"] if self.scan.items else len(self.scan.text)
        for c in self.scan.comments:
            if c["in_directive"] or SPDX.match(self.scan.text, c["start"]):
                continue
            if c["depth"] > 0 and c["in_stmt"]:
                self.member_comment(c)
            elif c["depth"] == 0 and not c["code_before"]:
                self.leading_comment(c, first_item)
            elif c["depth"] == 0 and c["in_stmt"] is False:
                self.trailing_comment(c)
        self.check_functions()
        return self.apply()

    def is_doc(self, c):
        return self.scan.text.startswith(DOC_OPENERS, c["start"]) and \
            not self.scan.text.startswith("/**/", c["start"])

    def make_doc(self, c, suffix=""):
        """Open comment c as a Doxygen comment ('/**' or '/**<')."""
        if self.is_doc(c):
            return
        text = self.scan.text
        self.format_blocks(c)
        if text.startswith("//", c["start"]):
            self.edit(c["start"], 2, "///" + suffix)
        else:
            self.edit(c["start"], 2, "/**" + suffix)

    def member_comment(self, c):
        if c["code_before"]:
            if not c["before"].rstrip().endswith("{"):
                self.make_doc(c, "<")
        elif not self.scan.blank(c["end_line"] + 1):
            nxt = self.scan.line_text(c["end_line"] + 1).strip()
            if not nxt.startswith("}"):
                self.make_doc(c)

    def item_after(self, c):
        """The item that starts right after comment c, or None."""
        for item in self.scan.items:
            if item["start"] >= c["end"]:
                if item["line"] in (c["end_line"], c["end_line"] + 1):
                    return item
                return None
        return None

    def leading_comment(self, c, first_item):
        text = self.scan.text
        if RULER.match(text, c["start"]):
            return
        item = self.item_after(c)
        # No comment may sit between c and its item.
        if item and any(c["end"] <= o["start"] < item["start"] for o in self.scan.comments):
            item = None
        if c["end"] <= first_item and (item is None or item["kind"] not in ("decl", "define")):
            self.file_comment(c)
            return
        if item is None or item["kind"] not in ("decl", "define"):
            return
        run = [item]
        items = self.scan.items
        k = items.index(item)
        while k + 1 < len(items):
            nxt = items[k + 1]
            if nxt["kind"] not in ("decl", "define") or nxt["line"] != items[k]["end_line"] + 1:
                break
            if any(items[k]["end"] <= o["start"] < nxt["start"] and not o["code_before"]
                   for o in self.scan.comments):
                break
            run.append(nxt)
            k += 1
        self.make_doc(c)
        for it in run:
            self.documented.add(id(it))
        if len(run) > 1:
            self.group(c, run[-1])

    def group(self, c, last):
        """Make the run from comment c to item `last` a member group, so
        Doxygen gives c's text to every member (DISTRIBUTE_GROUP_DOC)."""
        self.edit(c["start"], 0, "/** @{ */")
        if last["kind"] == "define":
            line = last["end_line"] + 1
            if line > len(self.scan.newlines):
                self.edit(len(self.scan.text), 0, "/** @} */")
            else:
                self.edit(self.scan.line_start(line), 0, "/** @} */")
        else:
            self.edit(self.scan.line_end(last["end_line"]), 0, "/** @} */")

    def file_comment(self, c):
        text = self.scan.text
        if self.is_doc(c) or text.startswith("//", c["start"]):
            return
        self.format_blocks(c)
        m = FILE_PREFIX.match(text, c["start"])
        self.edit(c["start"], m.end() - c["start"] if m else 2, "/** ")
        self.edit(c["end"] - 2, 0, " @file ")

    def comment_lines(self, c):
        """(line, body, indent) for each line of comment c: the body is the
        text after the leading '*', the indent its spaces beyond the one
        after the '*' (None for a blank line)."""
        out = []
        for line in range(c["line"], c["end_line"] + 1):
            text = self.scan.line_text(line)
            if line == c["line"]:
                body = text[text.find("/*", 0) + 2:] if "/*" in text else text
            else:
                body = re.sub(r"^\s*\*(?!/)", "", text)
            body = body.split("*/")[0]
            indent = None if not body.strip() else len(body) - len(body.lstrip()) - 1
            out.append((line, body, indent))
        return out

    def block_end(self, line):
        """Where to close a block that ends on `line`: its end, or just
        before the comment's end when it is on that line."""
        text = self.scan.line_text(line)
        k = text.find("*/")
        return self.scan.line_start(line) + (k if k >= 0 else len(text))

    def format_blocks(self, c):
        """Keep the comment's preformatted text preformatted: code examples
        (indented 4 or more after a blank line) become @code blocks, and
        runs of lines laid out in columns (wide gaps inside) become
        @verbatim, without adding lines: the commands go at the ends of the
        lines around them."""
        if c["line"] == c["end_line"]:
            return
        lines = self.comment_lines(c)
        k = 1
        while k < len(lines):
            _, _, indent = lines[k]
            if indent is not None and indent >= 4 and lines[k - 1][2] is None:
                last = k
                j = k + 1
                while j < len(lines) and (lines[j][2] is None or lines[j][2] >= 4):
                    if lines[j][2] is not None:
                        last = j
                    j += 1
                self.edit(self.block_end(lines[k - 1][0]), 0, " @code")
                self.edit(self.block_end(lines[last][0]), 0, " @endcode")
                k = last + 1
                continue
            j = k
            while j < len(lines) and lines[j][2] is not None and \
                    COLUMNS.search(lines[j][1].strip()):
                j += 1
            if j - k >= 2:
                self.edit(self.block_end(lines[k - 1][0]), 0, " @code{.unparsed}")
                self.edit(self.block_end(lines[j - 1][0]), 0, " @endcode")
                k = j
                continue
            k += 1

    def trailing_comment(self, c):
        """A comment after a top-level declaration, on its last line."""
        for item in self.scan.items:
            if item["kind"] == "decl" and item["end"] <= c["start"] and \
                    item["end_line"] == c["line"]:
                self.make_doc(c, "<")
                self.documented.add(id(item))

    def check_functions(self):
        for item in self.scan.items:
            name = self.scan.function_name(item)
            if name and not name.endswith("_") and id(item) not in self.documented:
                line = item["line"]
                self.undocumented.append((line + 1, name))
                self.edit(self.scan.line_start(line), 0, MARKER)

    def apply(self):
        text = self.scan.text
        for offset, drop, insert in sorted(self.edits, key=lambda e: e[0], reverse=True):
            text = text[:offset] + insert + text[offset + drop:]
        return text

    def report(self):
        for line, name in self.undocumented:
            sys.stderr.write(
                "%s:%d: error: public function %s has no comment directly above it "
                "(say what it does, each status it returns, its Python counterpart)\n"
                % (self.path, line, name))


def main(argv):
    check = argv[1:2] == ["--check"]
    paths = argv[2:] if check else argv[1:]
    if not paths:
        sys.stderr.write("usage: doxygen-filter.py [--check] HEADER...\n")
        return 2
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as f:
            flt = Filter(path, f.read())
        out = flt.run()
        flt.report()
        failed = failed or bool(flt.undocumented)
        if not check:
            sys.stdout.write(out)
    return 1 if check and failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
