"""Every table in docs/cost.md is what `make cost` prints for the command written above it (`python -m
infra.cost_doc` re-prints them after a bench run)."""

from __future__ import annotations

from pathlib import Path

from infra import cost_doc


def test_the_doc_has_its_tables() -> None:
    assert len(cost_doc.BLOCK.findall(cost_doc.DOC.read_text(encoding="utf-8"))) >= 6


def test_every_table_is_its_commands_output() -> None:
    _, stale = cost_doc.refreshed(cost_doc.DOC.read_text(encoding="utf-8"))
    assert stale == [], "run `python -m infra.cost_doc` and reread the prose around these tables"


def test_a_stale_table_is_found_and_rewritten(tmp_path: Path) -> None:
    doc = tmp_path / "cost.md"
    original = cost_doc.DOC.read_text(encoding="utf-8")
    doc.write_text(original.replace("| **total** | **$", "| **total** | **$9", 1), encoding="utf-8")
    assert cost_doc.main(["--check", "--doc", str(doc)]) == 1
    assert cost_doc.main(["--doc", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == original
