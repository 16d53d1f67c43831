"""The Moments port (客户朋友圈, issue 14 §4): posting to customers' Moments through a staff member, and what became
of the post. Its own Protocol apart from WeComPort (as the statistics port), so only the Moments services ask for it;
WeComClient implements it (adapters/wecom/moments.py), the sandbox plays it (devstack/wecom_world/moments.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from chalicelib.domain.messages import Message
    from chalicelib.ports.wecom import WeComCredentials

# get_moment_task_result's status: 1 开始创建, 2 正在创建, 3 创建完成
JOB_STARTED, JOB_RUNNING, JOB_DONE = 1, 2, 3
# get_moment_task's publish_status: 0 未发表, 1 已发表
NOT_PUBLISHED, PUBLISHED = 0, 1


@dataclass(frozen=True)
class MomentJob:
    """get_moment_task_result: the job's status and, once done, its result (moment_id empty when WeCom refused it,
    with ``errcode``); the senders and tags WeCom found invalid."""

    status: int
    errcode: int = 0
    moment_id: str = ""
    invalid_senders: tuple[str, ...] = ()
    invalid_tags: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.status == JOB_DONE


@dataclass(frozen=True)
class MomentPage:
    """One page of a Moments list (get_moment_task, get_moment_customer_list, get_moment_send_result)."""

    rows: tuple[dict[str, Any], ...] = ()
    next_cursor: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class MomentsPort(Protocol):
    def add_moment_task(
        self, creds: WeComCredentials, *, message: Message, senders: list[str], tag_ids: list[str]
    ) -> str:
        """Create a Moments publishing task (add_moment_task) for ``senders``, visible to their customers bearing
        any of ``tag_ids``: WeCom's jobid. The post exists once the job is done (get_moment_task_result)."""
        ...

    def get_moment_task_result(self, creds: WeComCredentials, *, jobid: str) -> MomentJob: ...

    def get_moment_task(self, creds: WeComCredentials, *, moment_id: str, cursor: str = "") -> MomentPage:
        """Each sender's publish_status: rows of {userid, publish_status}."""
        ...

    def get_moment_customer_list(
        self, creds: WeComCredentials, *, moment_id: str, userid: str, cursor: str = ""
    ) -> MomentPage:
        """Who can see the sender's post: rows of {userid, external_userid}."""
        ...

    def get_moment_send_result(
        self, creds: WeComCredentials, *, moment_id: str, userid: str, cursor: str = ""
    ) -> MomentPage:
        """Whom the sender's post reached once published: rows of {external_userid}."""
        ...
