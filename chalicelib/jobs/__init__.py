"""Lambda handlers for Scheduler targets and periodic jobs: parse, one service call, report."""
