"""Funnel and operations metrics (issue 11): facts, the field's formulas, and the read models. Pure: no clock, no
storage. docs/metrics.md defines every metric once; the modules here implement each once."""
