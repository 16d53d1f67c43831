"""Long work shown with its progress (the console's 任务进度): bulk enrollments and group syncs, read as one shape.

Pure: a job's stored state in, what a person needs to follow it out. A bulk enrollment and a group sync do not
know their total in advance (the customer list and WeCom's group listing are paged by cursor, without a count), so
a running one's progress is the stage it has reached and the counts so far, and its bar is indeterminate until it
is done; a done job is 100%. A group sync has two stages (WeCom's listing, then the sweep of the groups Siyu holds),
so a sync in its sweep is at least half done, which is what its bar shows. A metrics rebuild knows its days: its
bar is the share of them done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BULK, GROUP_SYNC, REBUILD = "bulk_enrollment", "group_sync", "metrics_rebuild"
# The ids' prefixes (services/bulk.py, services/groups/sync.py, services/rebuild_jobs.py).
BULK_PREFIX, GROUP_SYNC_PREFIX, REBUILD_PREFIX = "bj_", "gs_", "rb_"
RUNNING, DONE = "running", "done"

KIND_LABELS = {BULK: "批量入组", GROUP_SYNC: "社群同步", REBUILD: "数据重算"}
STATUS_LABELS = {RUNNING: "进行中", DONE: "已完成"}
SYNC_REASONS = {"first": "首次同步", "periodic": "每日同步", "manual": "手动同步"}
REFUSAL_LABELS = {
    "excluded_by_exit_rule": "命中退出规则",
    "audience_not_matched": "不符合计划人群",
    "reentry_not_allowed": "不允许重复进入",
    "already_enrolled": "已在计划中",
    "plan_not_found": "计划不存在或已停用",
}


@dataclass(frozen=True)
class Count:
    label: str
    value: int


@dataclass(frozen=True)
class JobView:
    """One job as the console shows it. ``percent`` is None while the share done is unknown (indeterminate bar)."""

    job_id: str
    kind: str
    title: str
    status: str
    status_label: str
    stage: str
    percent: int | None
    counts: tuple[Count, ...]
    started_at: str
    updated_at: str
    subject: str = ""  # what the job works on: a bulk job's plan id ("" for a sync)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def public(self) -> dict[str, Any]:
        """The small JSON the progress page polls."""
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "status": self.status,
            "status_label": self.status_label,
            "stage": self.stage,
            "percent": self.percent,
            "counts": [{"label": c.label, "value": c.value} for c in self.counts],
            "updated_at": self.updated_at,
            "running": self.running,
        }


def kind_of(job_id: str) -> str | None:
    """Which kind of job an id names, by its prefix (None: neither)."""
    if job_id.startswith(CONTACT_SYNC_PREFIX):
        return CONTACT_SYNC
    if job_id.startswith(BULK_PREFIX):
        return BULK
    if job_id.startswith(GROUP_SYNC_PREFIX):
        return GROUP_SYNC
    if job_id.startswith(REBUILD_PREFIX):
        return REBUILD
    if job_id.startswith(HANDOVER_PREFIX):
        return HANDOVER
    return None


def _status(job: dict[str, Any]) -> tuple[str, str]:
    status = str(job.get("status") or RUNNING)
    return status, STATUS_LABELS.get(status, status)


def bulk_view(job: dict[str, Any]) -> JobView:
    """A bulk enrollment job (services/bulk.py): customers scanned, enrolled and skipped, by reason."""
    status, label = _status(job)
    refused = job.get("refused") or {}
    counts = [
        Count("已扫描客户", int(job.get("scanned", 0))),
        Count("已入组", int(job.get("enrolled", 0))),
        Count("未入组", int(job.get("skipped", 0))),
    ]
    counts += [Count(f"未入组：{REFUSAL_LABELS.get(r, r)}", int(n)) for r, n in sorted(refused.items())]
    stage = "已完成" if status == DONE else f"正在处理第 {int(job.get('seq', 0)) + 1} 页客户"
    return JobView(
        job_id=str(job["job_id"]),
        kind=BULK,
        title=f"{KIND_LABELS[BULK]} · 计划 {job.get('plan_id', '')}",
        status=status,
        status_label=label,
        stage=stage,
        percent=100 if status == DONE else None,
        counts=tuple(counts),
        started_at=str(job.get("started_at", "")),
        updated_at=str(job.get("updated_at", "")),
        subject=str(job.get("plan_id", "")),
    )


def sync_view(job: dict[str, Any]) -> JobView:
    """A group sync (services/groups/sync.py): WeCom's listing first, then the sweep of the groups Siyu holds."""
    status, label = _status(job)
    sweeping = job.get("phase") == "sweep"
    if status == DONE:
        stage, percent = "已完成", 100
    elif sweeping:
        stage, percent = "第 2 步（共 2 步）：核对本地社群", 50
    else:
        stage, percent = f"第 1 步（共 2 步）：读取企业微信群列表，第 {int(job.get('pages', 0)) + 1} 页", None
    counts = (
        Count("已读取社群", int(job.get("groups_seen", 0))),
        Count("有变化的社群", int(job.get("changed", 0))),
        Count("已解散", int(job.get("dismissed", 0))),
        Count("读取失败", int(job.get("errors", 0))),
    )
    reason = SYNC_REASONS.get(str(job.get("reason", "")), "")
    return JobView(
        job_id=str(job["job_id"]),
        kind=GROUP_SYNC,
        title=KIND_LABELS[GROUP_SYNC] + (f" · {reason}" if reason else ""),
        status=status,
        status_label=label,
        stage=stage,
        percent=percent,
        counts=counts,
        started_at=str(job.get("started_at", "")),
        updated_at=str(job.get("updated_at", "")),
    )


def rebuild_view(job: dict[str, Any]) -> JobView:
    """A metrics rebuild (services/rebuild_jobs.py): its days, one at a time, from the fact log."""
    status, label = _status(job)
    days = list(job.get("days") or [])
    done = int(job.get("done", 0))
    percent = 100 if status == DONE or not days else done * 100 // len(days)
    span = f"{days[0]} 至 {days[-1]}" if days else ""
    stage = "已完成" if status == DONE else f"正在重算第 {done + 1} 天（共 {len(days)} 天）"
    return JobView(
        job_id=str(job["job_id"]),
        kind=REBUILD,
        title=f"{KIND_LABELS[REBUILD]} · {span}",
        status=status,
        status_label=label,
        stage=stage,
        percent=percent,
        counts=(
            Count("已重算天数", done),
            Count("读取的事实", int(job.get("facts", 0))),
            Count("写入的计数", int(job.get("counters", 0))),
        ),
        started_at=str(job.get("started_at", "")),
        updated_at=str(job.get("updated_at", "")),
    )


# --- 客户交接 (issue 14 §2; services/handover.py) -------------------------------------------------------------------
HANDOVER, HANDOVER_PREFIX = "handover", "ho_"  # as domain/handover.py names them
KIND_LABELS[HANDOVER] = "客户交接"
HANDOVER_PHASES = {"select": "第 1 步（共 3 步）：挑选客户", "call": "第 2 步（共 3 步）：提交企业微信转接"}
HANDOVER_STATES = (
    ("queued", "待转接"),
    ("waiting", "等待接替（24 小时）"),
    ("taken_over", "接替完毕"),
    ("refused", "客户拒绝"),
    ("limit_exceeded", "接替成员客户达到上限"),
    ("rejected", "企业微信拒绝"),
)


def handover_view(job: dict[str, Any]) -> JobView:
    """A hand-over: customers chosen, then sent to WeCom 100 a call, then followed until each is final (24 h)."""
    status, label = _status(job)
    customers = job.get("customers") or {}
    by_state: dict[str, int] = {}
    for rec in customers.values():
        by_state[rec["state"]] = by_state.get(rec["state"], 0) + 1
    final = sum(n for s, n in by_state.items() if s not in ("queued", "calling", "waiting"))
    if status == DONE:
        stage, percent = "已完成", 100
    elif job.get("phase") == "follow":
        stage = "第 3 步（共 3 步）：等待企业微信接替结果"
        percent = final * 100 // len(customers) if customers else 100
    else:
        stage, percent = HANDOVER_PHASES.get(str(job.get("phase")), ""), None
    counts = [Count("已选客户", len(customers))]
    counts += [Count(text, by_state.get(state, 0)) for state, text in HANDOVER_STATES]
    counts.append(Count("未转接", sum(int(n) for n in (job.get("skipped") or {}).values())))
    moments = sum(int(rec.get("moments_kept", 0)) for rec in customers.values())
    if moments:  # the old owner's Moments tasks (朋友圈): never reissued as a 1:1 text
        counts.append(Count("朋友圈任务未转交", moments))
    return JobView(
        job_id=str(job["job_id"]),
        kind=HANDOVER,
        title=f"{KIND_LABELS[HANDOVER]} · {job.get('handover_userid', '')} → {job.get('takeover_userid', '')}",
        status=status,
        status_label=label,
        stage=stage,
        percent=percent,
        counts=tuple(counts),
        started_at=str(job.get("started_at", "")),
        updated_at=str(job.get("updated_at", "")),
        subject=str(job.get("handover_userid", "")),
    )


# --- the contact sync (issue 14 §1, services/contact_sync.py) ---------------------------------------------------------

CONTACT_SYNC, CONTACT_SYNC_PREFIX = "contact_sync", "cs_"
KIND_LABELS[CONTACT_SYNC] = "客户同步"
CONTACT_SYNC_REASONS = {"first": "首次同步", "periodic": "每日核对", "manual": "手动核对"}
CONTACT_SYNC_COUNTS = (  # the job's counts by kind, as the console names them
    ("created", "导入新客户"),
    ("merged", "撞单合并"),
    ("linked", "新增跟进关系"),
    ("missed_add", "补录漏掉的添加"),
    ("tags", "标签已同步"),
    ("tags_imported", "导入企业微信标签"),
    ("lost", "已流失"),
    ("transferred", "已转给同事"),
    ("unchanged", "无变化"),
    ("skipped", "已跳过"),
    ("errors", "失败"),
)


def contact_sync_view(job: dict[str, Any]) -> JobView:
    """A contact sync: the staff list, then their contacts batch by batch (the pages are WeCom's, of unknown
    number), then the count of the customers Siyu holds, then (only when some staff member holds more than WeCom
    listed) their check one by one. A job blocked by WeCom's rate limit says so."""
    status, label = _status(job)
    staff = len(job.get("staff") or [])
    phase = str(job.get("phase", "staff"))
    percent: int | None = None
    if status == DONE:
        stage, percent = "已完成", 100
    elif phase == "sweep":
        stage, percent = "第 3 步（共 4 步）：清点本地客户", 60
    elif phase == "verify":
        short = len(job.get("short") or [])
        stage, percent = f"第 4 步（共 4 步）：逐一核对 {short} 位员工的客户", 80
    elif phase == "contacts":
        batches = -(-staff // 100)
        stage = f"第 2 步（共 4 步）：读取客户，第 {int(job.get('batch', 0)) + 1} 批员工（共 {batches} 批）"
    else:
        stage = "第 1 步（共 4 步）：读取员工列表"
    if status != DONE and job.get("waiting"):
        stage += " · 等待企业微信频率限制解除，稍后自动继续"
    counts_of = job.get("counts") or {}
    counts = [Count("已读取客户关系", int(job.get("seen", 0)))]
    counts += [Count(name, int(counts_of.get(key, 0))) for key, name in CONTACT_SYNC_COUNTS]
    reason = CONTACT_SYNC_REASONS.get(str(job.get("reason", "")), "")
    return JobView(
        job_id=str(job["job_id"]),
        kind=CONTACT_SYNC,
        title=KIND_LABELS[CONTACT_SYNC] + (f" · {reason}" if reason else ""),
        status=status,
        status_label=label,
        stage=stage,
        percent=percent,
        counts=tuple(counts),
        started_at=str(job.get("started_at", "")),
        updated_at=str(job.get("updated_at", "")),
    )
