#!/usr/bin/env python3
"""Rooms of a readable size (issue 18 item 2): no source file in src/ over 900 lines and no
function over 120 lines.

Lines are counted as `wc -l` counts them: doc comments, blank lines and inline tests count.
A function spans from the line of its `fn` keyword to the line of its closing brace; every
`fn` with a body is measured (free, method, nested, in tests). Lists every offender and
exits 1 if there is one. Run by .ci/run.
"""
import os
import re
import sys

MAX_FILE = 900
MAX_FN = 120

# Files allowed to break the limits (reported, not failed). Only ever shrink this list;
# it is empty since issue 18 split actor.rs and node.rs.
ALLOW = set()


def blank(src):
    """`src` with comments, strings and char literals replaced by spaces (newlines kept), so
    that braces and `fn` can be found by plain scanning."""
    out = list(src)
    i, n = 0, len(src)

    def wipe(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = src[i]
        nxt = src[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = src.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            wipe(i, j)
            i = j
        elif c in "rb" and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'(br|r)(#*)"', src[i:])
            if m:
                close = '"' + m.group(2)
                j = src.find(close, i + len(m.group(0)))
                j = n if j < 0 else j + len(close)
                wipe(i, j)
                i = j
            elif src.startswith('b"', i) or src.startswith("b'", i):
                i += 1  # the string or char itself is handled next round
            else:
                i += 1
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            wipe(i, j + 1)
            i = j + 1
        elif c == "'":
            if nxt == "\\":
                j = src.find("'", i + 3 if src[i + 2 : i + 3] == "'" else i + 2)
                j = n if j < 0 else j
                wipe(i, j + 1)
                i = j + 1
            elif i + 2 < n and src[i + 2] == "'":
                wipe(i, i + 3)
                i += 3
            else:
                i += 1  # a lifetime
        else:
            i += 1
    return "".join(out)


FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")


def long_fns(src):
    """(name, first line, lines) of every fn with a body over MAX_FN lines."""
    text = blank(src)
    found = []
    for m in FN.finditer(text):
        # The body opens at the first `{` outside the signature's brackets; a `;` first means
        # a declaration without a body (a trait method, an extern fn).
        depth, i = 0, m.end()
        while i < len(text):
            ch = text[i]
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif depth == 0 and ch in "{;":
                break
            i += 1
        if i >= len(text) or text[i] == ";":
            continue
        braces, j = 0, i
        while j < len(text):
            if text[j] == "{":
                braces += 1
            elif text[j] == "}":
                braces -= 1
                if braces == 0:
                    break
            j += 1
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, j) + 1
        if last - first + 1 > MAX_FN:
            found.append((m.group(1), first, last - first + 1))
    return found


MAX_ROOT = 30

# The only core files that may name the network module (issue 18 item 1).
DOORS = {"src/lib.rs", "src/distribution.rs"}


def door_breaches():
    """Core files (outside src/remote/) whose code, comments aside, names `remote::`."""
    out = []
    for root, _, files in sorted(os.walk("src")):
        for name in sorted(files):
            path = os.path.join(root, name).replace(os.sep, "/")
            if not name.endswith(".rs") or path.startswith("src/remote/") or path in DOORS:
                continue
            with open(path, encoding="utf-8") as f:
                code = blank(f.read())
            if re.search(r"\bremote::", code):
                out.append(path)
    return out


def root_names():
    """Names a user sees at the crate root: `pub use` items of src/lib.rs and exported
    macros (hidden ones, `#[doc(hidden)]`, excluded). Modules are the rooms, not names."""
    with open("src/lib.rs", encoding="utf-8") as f:
        lib = f.read()
    names = set()
    for m in re.finditer(r"(?m)^pub use ([^;]+);", lib):
        body = m.group(1)
        if "{" in body:
            prefix, items = body.split("{", 1)
            for it in items.rstrip("}").split(","):
                it = it.strip()
                if not it:
                    continue
                names.add(prefix.split("::")[0] if it == "self" else it.split(" as ")[-1])
        else:
            names.add(body.split("::")[-1].split(" as ")[-1])
    for root, _, files in os.walk("src"):
        for name in files:
            if name.endswith(".rs"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    src = f.read()
                lines = src.split("\n")
                for i, line in enumerate(lines):
                    m = re.match(r"macro_rules!\s*(\w+)", line)
                    if not m:
                        continue
                    attrs = []
                    j = i - 1
                    while j >= 0 and lines[j].lstrip().startswith("#["):
                        attrs.append(lines[j])
                        j -= 1
                    attrs = " ".join(attrs)
                    if "macro_export" in attrs and "doc(hidden)" not in attrs:
                        names.add(m.group(1) + "!")
    return names


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    failed = False
    for root, _, files in sorted(os.walk("src")):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name).replace(os.sep, "/")
            with open(path, encoding="utf-8") as f:
                src = f.read()
            allowed = path in ALLOW
            tag = " (allowed for now)" if allowed else ""
            lines = src.count("\n") + (0 if src.endswith("\n") or not src else 1)
            if lines > MAX_FILE:
                print(f"{path}: {lines} lines (over {MAX_FILE}){tag}")
                failed |= not allowed
            for fn, line, span in long_fns(src):
                print(f"{path}:{line}: fn {fn} spans {span} lines (over {MAX_FN}){tag}")
                failed |= not allowed
    for path in door_breaches():
        print(f"{path}: names the network (`remote::`) outside the door, src/distribution.rs")
        failed = True
    root = root_names()
    if len(root) > MAX_ROOT:
        print(f"src/lib.rs: {len(root)} names at the crate root (over {MAX_ROOT}): {sorted(root)}")
        failed = True
    if failed:
        print("rooms: see above (limits: %d lines a file, %d a function, %d root names, one door)" % (MAX_FILE, MAX_FN, MAX_ROOT))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
