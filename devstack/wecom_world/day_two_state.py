"""The sandbox's records of the day-two WeCom features (issue 14): acquisition links (获客链接, acquisition.py),
hand-overs (客户继承, handover.py) and Moments posts (客户朋友圈, moments.py). Held by ``Corp`` (state.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LinkAdd:
    """A customer added through an acquisition link (customer_acquisition/customer)."""

    external_userid: str
    userid: str
    state: str
    chat_status: int = 0


@dataclass
class AcqLink:
    """An acquisition link (获客链接, acquisition.py): its range, the adds made through it, the next staff member."""

    link_id: str
    link_name: str
    url: str
    users: list[str]
    skip_verify: bool
    created_at: float
    next_user: int = 0
    adds: list[LinkAdd] = field(default_factory=list)


@dataclass
class Transfer:
    """One customer's hand-over (在职继承 / 离职继承, handover.py): waiting (2) for 24 h, then taken over (1), or
    refused by the customer (3), or refused because the takeover staff is at their customer limit (4).
    ``notified``: the transfer_fail callback of a failed one was handed out (``transfer_callbacks``)."""

    handover_userid: str
    takeover_userid: str
    external_userid: str
    started_at: float
    resigned: bool = False
    status: int = 2
    takeover_time: int = 0
    notified: bool = False


@dataclass
class MomentTask:
    """A Moments publishing task (add_moment_task, moments.py): the job until it is done, then the post.
    ``visible``: per sender, the customers who can see it (computed from the follows' tags at creation);
    ``published``: per sender, when they published it (absent: 未发表); ``reached``: who it reached."""

    jobid: str
    created_at: float
    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    tag_ids: list[str] = field(default_factory=list)
    invalid_senders: list[str] = field(default_factory=list)
    invalid_tags: list[str] = field(default_factory=list)
    polls: int = 0
    done: bool = False  # the job completed (its result is ``errcode`` and ``moment_id``)
    errcode: int = 0
    moment_id: str = ""
    visible: dict[str, list[str]] = field(default_factory=dict)
    published: dict[str, float] = field(default_factory=dict)
    reached: dict[str, list[str]] = field(default_factory=dict)
