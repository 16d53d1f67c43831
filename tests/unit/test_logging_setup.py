"""The app's logger is Powertools' alone: Chalice (whose app logger has the same name, "siyu") must not configure it."""

from __future__ import annotations

import logging

import app


def test_chalice_leaves_the_siyu_logger_to_powertools() -> None:
    assert app.app.configure_logs is False
    siyu = logging.getLogger("siyu")
    assert siyu.propagate, "Chalice's log setup turns propagation off"
    assert siyu.getEffectiveLevel() <= logging.INFO, "Chalice's log setup raises the level to ERROR"
