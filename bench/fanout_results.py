"""The fan-out part's results (issue 8 §7), pure data: one ``FanoutRun`` per bucket size fired through the sharded
path, ``FanoutResults`` around them. bench/fanout.py fills them, bench/fanout_report.py renders them, tests build
them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import stats


@dataclass
class FanoutRun:
    """One bucket of ``touches`` touches over ``staff`` staff, fired by a coordinator that dispatched its shards to
    the local thread pool. Times are wall seconds from the fire's start (the bucket's minute, as Scheduler would
    invoke it)."""

    touches: int
    staff: int
    coordinator_s: float  # listing the bucket, planning and dispatching the shards
    last_task_s: float  # from the fire's start to the end of the last shard (its last task created)
    shard_sizes: list[int] = field(default_factory=list)  # touches per shard
    shard_s: list[float] = field(default_factory=list)  # each shard's own wall time
    sent: int = 0
    tasks: int = 0
    add_msg_template: int = 0
    setup_s: float = 0.0

    @property
    def shards(self) -> int:
        return len(self.shard_sizes)

    @property
    def largest_shard(self) -> int:
        return max(self.shard_sizes, default=0)

    @property
    def largest_shard_s(self) -> float:
        """The slowest shard's wall time (what one invocation costs at most)."""
        return max(self.shard_s, default=0.0)

    @property
    def median_shard_s(self) -> float:
        return stats.median(self.shard_s) if self.shard_s else 0.0


@dataclass
class FanoutResults:
    bound: int  # touches per shard at most (settings.fire_shard_size)
    workers: int  # shards run at once by the local dispatcher
    writers: int  # concurrent claims within a shard
    runs: list[FanoutRun] = field(default_factory=list)
    large: bool = False  # --large: the 100,000-touch bucket was measured

    def run(self, touches: int) -> FanoutRun | None:
        return next((r for r in self.runs if r.touches == touches), None)
