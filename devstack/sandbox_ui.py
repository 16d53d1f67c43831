"""The sandbox's phone (沙箱手机): the customer's and the staff member's side of WeCom as a web page, so the whole
nurture and camp story runs from a browser, without curl (issue 13 §5).

``GET /sandbox/ui?corp_id=`` shows one corp: its channel codes (scan one as a new or known customer; or open an
acquisition link's URL, 点获客链接: devstack/sandbox_acquisition.py), its customers
(reply to the staff member: a signed business event, as the institution's systems would send), its group codes
(join a group) and groups (say something in one: a check-in keyword counts), the staff members' pending mass-message
tasks (confirm one, as staff do in WeCom), their Moments posts to publish (发表朋友圈), a staff member's chat
with a customer (what the console's chat sidebar then shows: devstack/sandbox_jssdk.py), the application messages
staff received, and the stack's clock (move it on: what became due fires). Every action is the control API's own
route (devstack/sandbox_control.py), so the page does nothing the API cannot; each POST answers 303 back to the
page with what happened.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from chalicelib import errors
from devstack.sandbox_callbacks import CallbackRegistry, Delivery
from devstack.sandbox_events import EventsSecrets
from devstack.sandbox_http import RawAnswer
from devstack.wecom_world import WeComWorld
from devstack.wecom_world import app_messages as world_app_messages
from devstack.wecom_world.state import STAFF_NOT_SENT, Profile

HTML = "text/html; charset=utf-8"
PATH = "/sandbox/ui"
_IDS = re.compile(r'\b(id|for)="([^"]+)"')
ACTIONS = (
    "scan",
    "link",
    "reply",
    "order",
    "chat",
    "join",
    "say",
    "confirm",
    "moment",
    "clock",
    "group",
    "refuse",
    "settle",
)
ORDER_KINDS = [("full", "正价课"), ("trial", "体验课")]


class UiParts(Protocol):
    world: WeComWorld
    callbacks: CallbackRegistry
    events_secrets: EventsSecrets | None

    def control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]: ...

    def post_business_event(self, tenant_id: str, secret: str, event: dict[str, Any], timestamp: int) -> Delivery: ...


class SandboxUi:
    def __init__(self, sandbox: UiParts) -> None:
        self._sandbox = sandbox

    def pages(self) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {("GET", PATH): self._page}
        for action in ACTIONS:
            found[("POST", f"{PATH}/{action}")] = self._action(action)
        return found

    # --- the page ------------------------------------------------------------------------------------------------

    def _page(self, query: dict[str, str], raw: bytes) -> RawAnswer:
        corps = [r["corp_id"] or "" for r in self._sandbox.callbacks.registrations()]
        corp_id = query.get("corp_id") or (corps[0] if corps else "")
        if not corp_id:
            return _doc("沙箱手机", "<p>还没有登记的企业：先运行 <code>make run</code>（它会登记演示企业）。</p>")
        world = self._sandbox.world
        with world.lock:
            corp = world.corp(corp_id)
            ways = [(w.state, w.remark or w.state) for w in corp.ways.values() if w.state]
            links = [link.url for link in corp.links.values()]
            people = sorted(
                (ext, _name(corp.profiles.get(ext)) or ext, uid)
                for ext, rel in corp.follows.items()
                for uid, follow in rel.items()
                if follow.friends
            )
            join_ways = [(j.config_id, j.remark or j.state or j.config_id) for j in corp.join_ways.values()]
            tasks = [
                (t.msgid, t.sender, len(t.recipients), t.text[:40])
                for t in corp.tasks.values()
                if t.status == STAFF_NOT_SENT
            ]
            moments = [  # 朋友圈 posts a staff member has not published yet (wecom_world/moments.py)
                (f"{uid} {m.moment_id}", f"{uid} · {len(m.visible[uid])} 位可见 · {m.text[:40]}")
                for m in corp.moments.values()
                if m.moment_id
                for uid in m.visible
                if uid not in m.published
            ]
            app_messages = world_app_messages.messages(corp)[-10:]
            staff = sorted(corp.members.items())
            waiting = [(t.external_userid, f"{t.external_userid}：{t.handover_userid} → {t.takeover_userid}")
                       for t in corp.transfers if t.status == 2]  # fmt: skip
        groups = [(g["chat_id"], g["name"] or g["chat_id"]) for g in world.groups(corp_id) if not g["dismissed"]]
        done = query.get("done", "")
        parts = [f'<p class="done" role="status">{html.escape(done)}</p>' if done else ""]
        parts.append(f"<p>企业 <code>{html.escape(corp_id)}</code> · 沙箱时间 {_stamp(world.now())}</p>")
        hidden = f'<input type="hidden" name="corp_id" value="{html.escape(corp_id)}">'
        parts.append(
            _form(
                "scan", "客户扫码加好友", hidden, _select("state", "渠道活码", ways), _input("name", "客户昵称（可空）")
            )
        )
        known = "、".join(html.escape(u) for u in links[:5]) or "暂无（先在控制台新建获客链接渠道）"
        parts.append(
            _form(
                "link",
                "点获客链接",
                hidden,
                _input("url", "获客链接（从控制台复制，含 customer_channel）", query.get("link_url", "")),
                _input("name", "客户昵称（可空）"),
                f"<p><small>本企业的获客链接：{known}</small></p>",
            )
        )
        who = [(ext, f"{name}（{uid} 的客户）") for ext, name, uid in people]
        parts.append(
            _form(
                "reply",
                "客户回复（1 对 1）",
                hidden,
                _select("external_userid", "客户", who),
                _input("text", "回复内容", "我想了解一下试听课"),
            )
        )
        parts.append(
            _form(
                "order",
                "客户下单",
                hidden,
                _select("order_customer", "下单客户", who),
                _select("kind", "课程类型", ORDER_KINDS),
                _input("product", "商品", "考研全程班"),
                _input("amount", "金额（元）", "6980"),
            )
        )
        chats = [(f"{uid} {ext}", f"{uid} 与 {name}") for ext, name, uid in people]
        parts.append(_form("chat", "员工打开与客户的单聊（控制台侧边栏）", hidden, _select("chat", "单聊", chats)))
        owners = [(u, f"{n}（{u}）") for u, n in staff]
        owner = _select("owner", "群主", owners) if owners else _input("owner", "群主（员工 userid）")
        parts.append(
            _form("group", "员工建群", hidden, owner, _input("group_name", "群名", "示例教育·考研数学冲刺·3期·01"))
        )
        parts.append(
            _form(
                "join",
                "客户扫群码入群",
                hidden,
                _select("config_id", "群活码", join_ways),
                _select("external_userid", "客户", who),
            )
        )
        parts.append(
            _form(
                "say",
                "客户在群里说话（打卡等）",
                hidden,
                _select("chat_id", "群", groups),
                _select("external_userid", "客户", who),
                _input("text", "内容", "打卡"),
            )
        )
        task_options = [(m, f"{s} · {n} 位接收者 · {t}") for m, s, n, t in tasks]
        parts.append(
            _form("confirm", "员工在企业微信里确认群发", hidden, _select("msgid", "待发送的群发任务", task_options))
        )
        parts.append(_form("moment", "员工发表朋友圈", hidden, _select("moment", "待发表的朋友圈", moments)))
        parts.append(_form("clock", "时间快进", hidden, _input("hours", "小时数", "10")))
        if waiting:  # 客户继承 (devstack/sandbox_handover.py): the customer's side and WeCom's 24 h
            parts.append(_form("refuse", "客户拒绝转接", hidden, _select("external_userid", "等待接替的客户", waiting)))
            parts.append(_form("settle", "企业微信完成到期的接替（24 小时后），并回调", hidden))
        if app_messages:
            items = "".join(_app_message(m) for m in reversed(app_messages))
            parts.append(f"<section><h2>员工收到的应用消息（最近 10 条）</h2><ul>{items}</ul></section>")
        return _doc("沙箱手机", "".join(parts))

    # --- the actions ---------------------------------------------------------------------------------------------

    def _action(self, action: str) -> Any:
        def run(query: dict[str, str], raw: bytes) -> RawAnswer:
            form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            corp_id = form.get("corp_id", "")
            try:
                done = getattr(self, f"_{action}")(corp_id, form)
            except (errors.SiyuError, KeyError, ValueError) as exc:
                done = f"没有成功：{getattr(exc, 'message', None) or exc}"
            location = f"{PATH}?{urlencode({'corp_id': corp_id, 'done': done})}"
            return RawAnswer(303, HTML, b"", {"Location": location})

        return run

    def _control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = self._sandbox.control("POST", path, {}, json.dumps(body).encode())
        if status >= 400:
            raise errors.InvalidError(str(answer.get("error", {}).get("message", answer)))
        return answer

    def _scan(self, corp_id: str, form: dict[str, str]) -> str:
        body = {"corp_id": corp_id, "state": form["state"], **({"name": form["name"]} if form.get("name") else {})}
        answer = self._control("/sandbox/scan", body)
        return (
            f"已扫码：客户 {answer['external_userid']} 加了 {answer['userid']}（回调 HTTP {answer['callback_status']}）"
        )

    def _link(self, corp_id: str, form: dict[str, str]) -> str:
        body = {"corp_id": corp_id, "url": form["url"].strip(), **({"name": form["name"]} if form.get("name") else {})}
        answer = self._control("/sandbox/acquisition/open", body)
        who, status = answer["external_userid"], answer["callback_status"]
        return f"已点链接：客户 {who} 加了 {answer['userid']}（回调 HTTP {status}）"

    def _reply(self, corp_id: str, form: dict[str, str]) -> str:
        message = {"external_userid": form["external_userid"], "text": form["text"]}
        status = self._send_event(corp_id, "message", message)
        return f"已回复（事件 HTTP {status}）"

    def _order(self, corp_id: str, form: dict[str, str]) -> str:
        """客户下单: the institution's order system reports a purchase (a signed ``order`` business event): a full
        order converts the customer and ends the plans that exit on one, so "a customer exits on purchase" plays
        from the browser."""
        amount = float(form.get("amount") or "nan")
        if not 0 <= amount <= 100_000_000:
            raise ValueError("金额须为 0 到 100000000 之间的数字（元）")
        kind = form.get("kind") or "full"
        if kind not in dict(ORDER_KINDS):
            raise ValueError("课程类型须为正价课或体验课")
        order = {"external_userid": form["order_customer"], "kind": kind, "amount": amount}
        if form.get("product", "").strip():
            order["product"] = form["product"].strip()[:100]
        status = self._send_event(corp_id, "order", order)
        return f"已下单：{dict(ORDER_KINDS)[kind]} {amount:g} 元（事件 HTTP {status}）"

    def _send_event(self, corp_id: str, kind: str, fields: dict[str, Any]) -> int | None:
        """A business event of ``kind`` as the institution's systems send it: signed with the tenant's events
        secret, stamped with the sandbox's clock (an event may not come from the future)."""
        tenant_id = self._sandbox.callbacks.get(corp_id).tenant_id
        provider = self._sandbox.events_secrets
        secret = provider(tenant_id) if provider is not None else None
        if not secret:
            raise errors.InvalidError(f"沙箱不知道机构 {tenant_id} 的事件密钥（make run 会提供演示机构的）")
        now = self._sandbox.world.now()
        event = {
            "event_id": f"sbx-{kind}-{secrets.token_hex(8)}",
            "type": kind,
            "occurred_at": datetime.fromtimestamp(int(now), UTC).isoformat(),
            **fields,
        }
        return self._sandbox.post_business_event(tenant_id, secret, event, int(now)).status

    def _chat(self, corp_id: str, form: dict[str, str]) -> str:
        userid, external_userid = form["chat"].split(" ", 1)
        body = {"corp_id": corp_id, "userid": userid, "external_userid": external_userid}
        self._control("/sandbox/jssdk/context", body)
        tenant_id = self._sandbox.callbacks.get(corp_id).tenant_id
        return f"{userid} 正在与 {external_userid} 单聊：在控制台以 {userid} 登录，打开 /console/{tenant_id}/sidebar"

    def _join(self, corp_id: str, form: dict[str, str]) -> str:
        body = {"corp_id": corp_id, "config_id": form["config_id"], "external_userid": form["external_userid"]}
        answer = self._control("/sandbox/group-join", body)
        return f"已入群 {answer['chat_id']}"

    def _say(self, corp_id: str, form: dict[str, str]) -> str:
        tenant_id = self._sandbox.callbacks.get(corp_id).tenant_id
        body = {"tenant_id": tenant_id, **{k: form[k] for k in ("chat_id", "external_userid", "text")}}
        answer = self._control("/sandbox/group-message", body)
        return f"已在群里发言（事件 HTTP {answer['status']}）"

    def _confirm(self, corp_id: str, form: dict[str, str]) -> str:
        with self._sandbox.world.lock:
            task = self._sandbox.world.corp(corp_id).tasks[form["msgid"]]
        answer = self._control(f"/sandbox/tasks/{form['msgid']}/confirm", {"userid": task.sender})
        return f"{task.sender} 已确认发送：送达 {answer['sent']} 位"

    def _moment(self, corp_id: str, form: dict[str, str]) -> str:
        """发表朋友圈: the staff member publishes a Moments post the plan asked for; task sync then records it."""
        userid, moment_id = form["moment"].split(" ", 1)
        body = {"corp_id": corp_id, "moment_id": moment_id, "userid": userid}
        answer = self._control("/sandbox/moments/publish", body)
        return f"{userid} 已发表朋友圈：{answer['reached']} 位客户可见"

    def _group(self, corp_id: str, form: dict[str, str]) -> str:
        """A staff member makes a group in WeCom (seeded without a callback, as before Siyu knew it): the console's
        group sync then imports it."""
        body = {"corp_id": corp_id, "owner": form["owner"].strip(), "name": form["group_name"].strip()}
        answer = self._control("/sandbox/groups", body)
        tenant_id = self._sandbox.callbacks.get(corp_id).tenant_id
        return f"{body['owner']} 建了群 {answer['chat_id']}：在控制台 /console/{tenant_id}/jobs 同步社群后可见"

    def _clock(self, corp_id: str, form: dict[str, str]) -> str:
        hours = int(form.get("hours") or "0")
        if not 1 <= hours <= 24 * 60:
            raise ValueError("小时数须在 1 到 1440 之间")
        self._control("/sandbox/clock", {"advance": f"PT{hours}H"})
        return f"时间已前进 {hours} 小时，到期的触达已执行"

    def _refuse(self, corp_id: str, form: dict[str, str]) -> str:
        body = {"corp_id": corp_id, "external_userid": form["external_userid"]}
        answer = self._control("/sandbox/handover/refuse", body)
        return f"客户拒绝了转接（回调 {len(answer['callbacks'])} 条）"

    def _settle(self, corp_id: str, form: dict[str, str]) -> str:
        answer = self._control("/sandbox/handover/settle", {"corp_id": corp_id})
        return f"到期的接替已完成（回调 {len(answer['callbacks'])} 条）"


def _app_message(m: dict[str, Any]) -> str:
    """One textcard as the member's WeCom shows it: to whom, when, its title and its button (the link it opens);
    a duplicate or a dropped one says so (WeCom would not have shown it)."""
    shown = {"delivered": "", "duplicate": "（重复，未再显示）", "dropped": "（超出频率，已丢弃）"}.get(m["status"], "")
    return (
        f"<li><b>{html.escape(m['userid'])}</b> {_stamp(m['sent_at'])} {html.escape(m['title'])}{shown} "
        f'<a href="{html.escape(m["url"])}">{html.escape(m["btntxt"])}</a></li>'
    )


def _name(profile: Profile | None) -> str | None:
    return profile.name if profile is not None else None


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def _input(name: str, label: str, value: str = "") -> str:
    return (
        f'<label for="{name}">{html.escape(label)}</label>'
        f'<input id="{name}" name="{name}" value="{html.escape(value)}">'
    )


def _select(name: str, label: str, options: list[tuple[str, str]]) -> str:
    if not options:
        return f"<p>{html.escape(label)}：暂无</p>"
    items = "".join(f'<option value="{html.escape(v)}">{html.escape(t)}</option>' for v, t in options)
    return f'<label for="{name}">{html.escape(label)}</label><select id="{name}" name="{name}">{items}</select>'


def _form(action: str, title: str, *fields: str) -> str:
    """One action's form; its fields' ids are prefixed with the action, so each label names its own field even
    where two forms ask for the same thing (a customer, a text)."""
    body = _IDS.sub(lambda m: f'{m.group(1)}="{action}-{m.group(2)}"', "".join(fields))
    return (
        f'<section><h2>{html.escape(title)}</h2><form method="post" action="{PATH}/{action}">'
        f'{body}<button type="submit">{html.escape(title)}</button></form></section>'
    )


def _doc(title: str, body: str) -> RawAnswer:
    style = (
        "body{font:15px/1.6 sans-serif;max-width:640px;margin:0 auto;padding:12px;background:#f5f6f7;color:#1f2329}"
        "section{background:#fff;border-radius:8px;padding:8px 12px;margin:10px 0}"
        "label{display:block;font-weight:600;margin-top:6px}input,select{width:100%;padding:6px;font:inherit}"
        "button{margin-top:8px;padding:6px 12px;font:inherit;background:#1d4fd8;color:#fff;border:0;border-radius:6px}"
        ".done{background:#e8f3ee;padding:8px;border-radius:6px}"
    )
    doc = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{style}</style></head>"
        f"<body><h1>{html.escape(title)}（企业微信沙箱）</h1>{body}</body></html>"
    )
    return RawAnswer(200, HTML, doc.encode())
