"""The SOP engine (issue 8 §1): a kernel that knows subjects, and the policies that know what a subject is.

- ``kernel.py``: the conditional touch transitions, the fire loop, reconciliation after a crash and the backstop —
  the same for every subject kind; ``scheduling.py``: buckets and their one schedule, executor hints, inline firing;
  ``fanout.py``: a large bucket's fire split into shards (issue 8 §7);
- ``policy.py``: the subject policy port (load, judge, executor, deliver) and the verdicts it answers with;
- ``customer_policy.py``: customers, today's behaviour;
- ``engine.py``: ``SopEngine``, the customer-facing entry points (enroll, fire, backstop, on_signal);
- ``simulation.py``: the simulate endpoint's service; ``repos.py``: storage ports; ``rules.py``: shared reads.

Staff tasks are services/staff_tasks.py; migration and bulk enrollment services/migration.py and services/bulk.py.
"""

from chalicelib.services.sop.engine import SopEngine
from chalicelib.services.sop.kernel import FireReport, SopKernel
from chalicelib.services.sop.rules import rules_of

__all__ = ["FireReport", "SopEngine", "SopKernel", "rules_of"]
