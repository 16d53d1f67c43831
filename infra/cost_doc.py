"""`python -m infra.cost_doc`: re-print every table in docs/cost.md from the command written above it.

After `make bench` rewrites bench/figures.json (or a price or profile changes), run this so the doc shows what
`make cost` prints; `--check` only says which tables are stale (tests/unit/test_cost_doc.py runs the same check).
The prose around the tables quotes some of their figures: reread it after an update.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from infra import cost

DOC = Path(__file__).resolve().parent.parent / "docs" / "cost.md"
# A command line, a blank line, then the printed block: its provenance comment and the table's rows.
BLOCK = re.compile(r'^`make cost(?: ARGS="([^"]*)")?`\n\n((?:<!--.*-->\n)(?:\|.*\n)+)', re.MULTILINE)


def printed(args: str) -> str:
    """What `make cost ARGS="<args>"` prints, up to its first blank line (the table, not the notes under it)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cost.main(shlex.split(args))
    if code != 0:
        raise ValueError(f"make cost ARGS={args!r} failed (exit {code})")
    return out.getvalue().split("\n\n")[0].rstrip("\n") + "\n"


def refreshed(text: str) -> tuple[str, list[str]]:
    """The doc with every table re-printed, and the commands whose table changed."""
    stale: list[str] = []

    def redo(match: re.Match[str]) -> str:
        args, table = match.group(1) or "", match.group(2)
        fresh = printed(args)
        if fresh != table:
            stale.append(args or "(no ARGS)")
        return match.group(0).replace(table, fresh)

    return BLOCK.sub(redo, text), stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cost_doc", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only list the stale tables (exit 1 if any)")
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    text = args.doc.read_text(encoding="utf-8")
    new, stale = refreshed(text)
    for command in stale:
        print(f'stale: make cost ARGS="{command}"')
    if args.check:
        return 1 if stale else 0
    if new != text:
        args.doc.write_text(new, encoding="utf-8")
        print(f"rewrote {len(stale)} table(s) in {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
