"""Every table in docs/cost.md is what `make cost` prints for the command written above it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from infra import cost

DOC = Path(__file__).resolve().parents[2] / "docs" / "cost.md"
# A command line, a blank line, then the printed block: its provenance comment and the table's rows.
BLOCK = re.compile(r'^`make cost(?: ARGS="([^"]*)")?`\n\n((?:<!--.*-->\n)(?:\|.*\n)+)', re.MULTILINE)
BLOCKS = BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_doc_has_its_tables() -> None:
    assert len(BLOCKS) >= 6  # scenarios, one bill, three idle bills, the comparison


@pytest.mark.parametrize(("args", "table"), BLOCKS, ids=[a or "(none)" for a, _ in BLOCKS])
def test_each_table_is_the_commands_output(args: str, table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(shlex.split(args)) == 0
    printed = capsys.readouterr().out.split("\n\n")[0].rstrip("\n") + "\n"
    assert table == printed
