"""An in-memory model of the part of WeCom Siyu uses: state plus the documented rules and errcodes.

The real WeComClient runs against it unchanged, in process through WorldTransport or over HTTP through the sandbox.
Rules and errcodes follow shared/reference/wecom.md and the official pages it cites (global errcodes 90313);
where the docs name no errcode the world uses 40058 (不合法的参数), and says so at the call site.

Pure Python, deterministic (ids derive from counters and hashes, time from the clock it is given), thread-safe.

    state.py         the state (corps, tokens, faults, calls), its lock and the id sequence
    api.py           errcodes, ApiError, the ApiSet each API module registers, cursor paging
    contact_ways.py  联系我: add/update/get/del_contact_way
    contacts.py      external contacts and follow users (externalcontact/get); scan and relation events
    tags.py          corp tags and mark_tag
    messages.py      mass messages to customers or groups (add_msg_template, group msg results), welcome messages
    groups.py        客户群: groupchat/list and get; members joining and leaving, owners' changes (the callbacks)
    join_ways.py     「加入群聊」 join ways, and joining through one (rooms auto-created at the member limit)
    statistics.py    统计管理: contact and group statistics computed from the state's stat_events
    tickets.py       JS-SDK tickets (get_jsapi_ticket, ticket/get agent_config), signature checks, the open chat
    handover.py      客户继承: transfer_customer / transfer_result (在职), get_unassigned_list and resigned/* (离职)
    media.py         临时素材: media/upload, and 40007 for a media_id never uploaded or past its 3 days
    snapshot.py      the versioned JSON snapshot (save/restore)
    world.py         WeComWorld: dispatch over the API modules' ApiSets, plus the test controls
    transport.py     WorldTransport: the real client against a world in process

A new API family is a new module exporting ``APIS = ApiSet(...)``, listed in world.API_SETS; its corp state is a
defaulted field on state.Corp (persisted by the snapshot codec without other changes), as groups.py and join_ways.py
did for 客户群.
"""

from devstack.wecom_world.api import ERRMSG, UnknownApiError
from devstack.wecom_world.contact_ways import MAX_CONTACT_WAY_USERS, MAX_CONTACT_WAYS
from devstack.wecom_world.groups import MAX_CHAT_MEMBERS
from devstack.wecom_world.messages import (
    BEIJING,
    LIST_MAX_SPAN,
    LIST_PAGE_DEFAULT,
    LIST_PAGE_MAX,
    MAX_ATTACHMENTS,
    MAX_TEMPLATE_RECIPIENTS,
    MAX_TEXT_BYTES,
    TASK_PAGE_DEFAULT,
    TASK_PAGE_MAX,
    WELCOME_CODE_TTL,
)
from devstack.wecom_world.snapshot import SNAPSHOT_FORMAT, SNAPSHOT_VERSION, SnapshotError
from devstack.wecom_world.state import (
    MAX_NAME_CHARS,
    SEND_LIMIT,
    SEND_NOT_FRIEND,
    SEND_OK,
    SEND_PENDING,
    STAFF_NOT_SENT,
    STAFF_SENT,
    Call,
    WorldError,
)
from devstack.wecom_world.tags import MAX_CORP_TAGS
from devstack.wecom_world.transport import WorldTransport
from devstack.wecom_world.world import TOKEN_TTL, WeComWorld

__all__ = [
    "BEIJING",
    "ERRMSG",
    "LIST_MAX_SPAN",
    "LIST_PAGE_DEFAULT",
    "LIST_PAGE_MAX",
    "MAX_ATTACHMENTS",
    "MAX_CHAT_MEMBERS",
    "MAX_CONTACT_WAYS",
    "MAX_CONTACT_WAY_USERS",
    "MAX_CORP_TAGS",
    "MAX_NAME_CHARS",
    "MAX_TEMPLATE_RECIPIENTS",
    "MAX_TEXT_BYTES",
    "SEND_LIMIT",
    "SEND_NOT_FRIEND",
    "SEND_OK",
    "SEND_PENDING",
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_VERSION",
    "STAFF_NOT_SENT",
    "STAFF_SENT",
    "TASK_PAGE_DEFAULT",
    "TASK_PAGE_MAX",
    "TOKEN_TTL",
    "WELCOME_CODE_TTL",
    "Call",
    "SnapshotError",
    "UnknownApiError",
    "WeComWorld",
    "WorldError",
    "WorldTransport",
]
