"""A week of a tenant's activity, driven through the real surfaces only: the sandbox plays the parents and WeCom
(scans, deletions, group joins, leaves and group messages, staff pressing send), the app's API takes the business
events (signed), the spend and the task confirmations, and the sandbox's clock moves the stack day by day so the
pump fires the plan's touches on time.

Deterministic for a seed: every choice comes from one ``random.Random``, drawn in an order that does not depend on
the ids Siyu makes (the holdout, drawn from the customer ids, differs from stack to stack). Event ids carry the run's
id (the seed and the clock's start), so a second run adds a second week instead of colliding with the first.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain.business_events import sign
from devstack.demo_setup import DemoError, Endpoint, Setup, expect

MESSAGES = {  # the default reply keywords: 多少钱/报名/试听 positive, 不需要/别发了 negative (README)
    "positive": ("老师，全程班多少钱？", "想报名试听一下", "试听课怎么报名呀"),
    "neutral": ("好的，谢谢老师", "收到，资料包我看看", "明天再看一下"),
    "negative": ("不需要了，别发了",),
}
TRIALS = (("考研政治体验课", 0.0), ("考研数学体验课", 9.9))  # free and paid trials
FULL = (("考研数学全程班", 3980.0), ("考研英语冲刺班", 1980.0))
BATCH = 100  # POST /t/{t}/events takes at most 100 events


@dataclass
class Customer:
    customer_id: str
    external_userid: str
    userid: str
    channel: int  # index into Setup.channels
    day: int
    lost: bool = False
    negative: bool = False
    trial: bool = False
    full: bool = False
    in_group: bool = False


@dataclass
class Day:
    """What one day did (a progress line) and what the week adds up to."""

    number: int
    date: str
    counts: Counter[str] = field(default_factory=Counter)

    def line(self, days: int) -> str:
        c = self.counts
        return (
            f"day {self.number}/{days} {self.date}: exposures {c['uv']}, scans {c['scans']} (new {c['new']}, "
            f"re-adds {c['readds']}), lost {c['lost']}, messages {c['messages']} ({c['negative']} negative), "
            f"orders {c['trial_orders']} trial + {c['full_orders']} full (retry: {c['duplicates']} duplicate), "
            f"group +{c['joins']} -{c['leaves']}, check-ins {c['checkins']}, tasks confirmed {c['confirmed']}, "
            f"spend ¥{c['spend']:,}"
        )


@dataclass
class Week:
    tenant_id: str
    corp_id: str
    token: str
    events_secret: str
    setup: Setup
    rng: random.Random
    run_id: str
    scans: tuple[int, int] = (20, 60)
    customers: list[Customer] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # customers a plan task carried (the holdout never is)
    totals: Counter[str] = field(default_factory=Counter)
    first_date: str = ""
    last_date: str = ""


class Driver:
    """Runs ``Week``'s days against an API endpoint and a sandbox endpoint."""

    def __init__(self, api: Endpoint, sandbox: Endpoint, week: Week, log: Callable[[str], None]) -> None:
        self.api, self.sandbox, self.w, self.log = api, sandbox, week, log
        self.base = f"/t/{week.tenant_id}"
        self.now = self._clock()["now"]

    # ------------------------------------------------------------------------------------------------ the clock

    def _clock(self) -> dict[str, Any]:
        return dict(expect(self.sandbox("GET", "/sandbox/clock"), "GET", "/sandbox/clock", 200))

    def _move_to(self, at: datetime) -> None:
        """Move the stack's clock (the pump fires what comes due on the way); never backwards."""
        now = datetime.fromisoformat(self._clock()["now"])
        if at > now:
            body = {"to": at.isoformat()}
            moved = expect(self.sandbox("POST", "/sandbox/clock", body), "POST", "/sandbox/clock", 200)
            self.now = moved["clock"]["now"]
        else:
            self.now = now.isoformat()

    # ------------------------------------------------------------------------------------------------ the week

    def run(self, days: int) -> None:
        start = datetime.fromisoformat(self.now)
        first = (start + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)  # tomorrow 09:00
        for n in range(days):
            day0 = first + timedelta(days=n)
            today = Day(n + 1, day0.date().isoformat())
            self.w.first_date = self.w.first_date or today.date
            self.w.last_date = today.date
            self._day(n, day0, today.counts)
            self.w.totals.update(today.counts)
            self.log(today.line(days))

    def _day(self, n: int, day0: datetime, c: Counter[str]) -> None:
        lo, hi = self.w.scans
        scans = self.w.rng.randint(lo, hi)
        morning = scans // 2
        self._move_to(day0)  # 09:00: the landing pages' UV so far, the morning's scans
        picks = [self._pick_channel() for _ in range(scans)]
        self._exposures(picks, c)
        self._scans(n, picks[:morning], c)
        self._move_to(day0.replace(hour=10, minute=30))  # s1 went out at 10:00: staff confirm half at once
        self._confirm(0.5, c)
        self._move_to(day0.replace(hour=13))  # the afternoon's scans, replies, losses and re-adds
        self._scans(n, picks[morning:], c)
        self._messages(n, c)
        self._losses_and_readds(n, c)
        self._move_to(day0.replace(hour=15, minute=30))  # the rest confirm later (on time or not)
        self._confirm(0.7, c)
        self._orders(n, c)
        self._move_to(day0.replace(hour=20))  # the camp group's evening, and the day's spend
        self._group(n, c)
        self._spend(day0.date(), c)

    def _pick_channel(self) -> int:
        weights = [ch.spec.weight for ch in self.w.setup.channels]
        return self.w.rng.choices(range(len(weights)), weights=weights)[0]

    # ------------------------------------------------------------------------------------------------ surfaces

    def _events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST signed business events (at the stack clock's time, as a sender would), in batches of 100."""
        results: list[dict[str, Any]] = []
        path = f"{self.base}/events"
        for i in range(0, len(events), BATCH):
            raw = json.dumps({"events": events[i : i + BATCH]}, ensure_ascii=False).encode()
            stamp = str(self._clock()["unix"])
            headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(self.w.events_secret, stamp, raw)}
            answer = expect(self.api("POST", path, raw, headers=headers), "POST", path, 200)
            results.extend(answer["results"])
        return results

    def _event(self, key: str, event_type: str, /, **fields: Any) -> dict[str, Any]:
        return {"event_id": f"{self.w.run_id}-{key}", "type": event_type, "occurred_at": self.now, **fields}

    def _exposures(self, picks: list[int], c: Counter[str]) -> None:
        events = []
        for i, ch in enumerate(self.w.setup.channels):
            scans = picks.count(i)
            uv = sum(self.w.rng.randint(*ch.spec.uv_per_scan) for _ in range(scans)) + self.w.rng.randint(20, 80)
            events.append(
                self._event(f"exp-{self.now[:10]}-{ch.channel_id}", "exposure", channel_id=ch.channel_id, uv=uv)
            )
            c["uv"] += uv
        self._applied(self._events(events), "exposure")

    def _scan(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = expect(self.sandbox("POST", "/sandbox/scan", body), "POST", "/sandbox/scan", 200)
        if answer.get("callback_status") != 200:
            raise DemoError(f"the scan's callback answered {answer.get('callback_status')}: {answer}")
        return {**answer, **json.loads(answer["callback_body"])}

    def _scans(self, n: int, picks: list[int], c: Counter[str]) -> None:
        for index in picks:
            channel = self.w.setup.channels[index]
            got = self._scan({"corp_id": self.w.corp_id, "state": channel.state})
            c["scans"] += 1
            if got.get("outcome") == "created":
                c["new"] += 1
                self.w.customers.append(Customer(got["customer_id"], got["external_userid"], got["userid"], index, n))

    def _losses_and_readds(self, n: int, c: Counter[str]) -> None:
        rng = self.w.rng
        lost = [x for x in self.w.customers if x.lost]
        for x in rng.sample(lost, min(len(lost), rng.randint(0, 1))):  # came back: scans the same code again
            body = {
                "corp_id": self.w.corp_id,
                "state": self.w.setup.channels[x.channel].state,
                "external_userid": x.external_userid,
                "userid": x.userid,
            }
            got = self._scan(body)
            c["scans"] += 1
            c["readds"] += int(got.get("outcome") == "readd")
            x.lost = False
        present = [x for x in self.w.customers if not x.lost and not x.full and x.day < n]  # after their s1
        for x in rng.sample(present, min(len(present), rng.randint(0, 2))):  # deletes the staff member
            body = {
                "corp_id": self.w.corp_id,
                "change_type": "del_follow_user",
                "userid": x.userid,
                "external_userid": x.external_userid,
            }
            answer = expect(self.sandbox("POST", "/sandbox/events", body), "POST", "/sandbox/events", 200)
            if answer.get("callback_status") != 200:
                raise DemoError(f"del_follow_user answered {answer.get('callback_status')}")
            x.lost = True
            c["lost"] += 1

    def _messages(self, n: int, c: Counter[str]) -> None:
        rng = self.w.rng
        here = [x for x in self.w.customers if not x.lost and not x.negative]
        events = []
        for i, x in enumerate(rng.sample(here, min(len(here), rng.randint(4, 12)))):
            mood = "negative" if n == 0 and i == 0 else rng.choices(("positive", "neutral"), (0.35, 0.65))[0]
            text = rng.choice(MESSAGES[mood])
            events.append(self._event(f"msg-{n}-{i}", "message", customer_id=x.customer_id, text=text))
            x.negative = x.negative or mood == "negative"
            c["messages"] += 1
            c["negative"] += int(mood == "negative")
        self._applied(self._events(events), "message")

    def _orders(self, n: int, c: Counter[str]) -> None:
        """Trials (free and paid) and full orders; touched customers buy more often (the plan's lift). The first
        batch is sent twice, as a sender retrying after a timeout: the repeat must answer duplicate."""
        rng, events = self.w.rng, []
        fresh = [x for x in self.w.customers if not x.lost and not x.negative and not x.trial]
        for x in fresh:
            if rng.random() < (0.07 if x.customer_id in self.w.touched else 0.03):
                product, amount = rng.choice(TRIALS)
                events.append(self._order(x, "trial", product, amount))
        if not events and fresh:  # at least one a day, so a small run has orders to count
            product, amount = rng.choice(TRIALS)
            events.append(self._order(rng.choice(fresh), "trial", product, amount))
        for x in self.w.customers:
            if (
                x.trial
                and not x.full
                and not x.lost
                and rng.random() < (0.1 if x.customer_id in self.w.touched else 0.04)
            ):
                product, amount = rng.choice(FULL)
                events.append(self._order(x, "full", product, amount))
        applied = self._applied(self._events(events), "order")
        sent = {e["event_id"]: e for e in events}
        for r in applied:
            c["trial_orders" if sent[r["event_id"]]["kind"] == "trial" else "full_orders"] += 1
            c["revenue_fen"] += round(sent[r["event_id"]]["amount"] * 100)
        if events:
            again = self._events(events[:3])
            c["retried"] += len(again)
            c["duplicates"] += sum(r["status"] == "duplicate" for r in again)

    def _order(self, x: Customer, kind: str, product: str, amount: float) -> dict[str, Any]:
        x.trial, x.full = True, x.full or kind == "full"
        return self._event(
            f"order-{x.customer_id}-{kind}",
            "order",
            customer_id=x.customer_id,
            kind=kind,
            amount=amount,
            product=product,
        )

    def _applied(self, results: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
        bad = [r for r in results if r.get("status") != "applied"]
        if bad:
            raise DemoError(f"{len(bad)} {what} event(s) not applied: {bad[:3]}")
        return results

    def _confirm(self, share: float, c: Counter[str]) -> None:
        """Staff press send in WeCom (the sandbox) and confirm in Siyu, for a share of the open plan tasks."""
        order = {x.customer_id: i for i, x in enumerate(self.w.customers)}  # the scans' order: the same every run

        def key(task: dict[str, Any]) -> tuple[str, str, str, int]:
            first = min((order.get(cid, len(order)) for cid in task.get("customer_ids") or []), default=len(order))
            return str(task.get("due_at")), str(task.get("userid")), str(task.get("step_id")), first

        for task in sorted(self._all(f"{self.base}/tasks?status=created"), key=key):
            self.w.touched.update(task.get("customer_ids") or [])
            if task.get("kind") != "mass" or self.w.rng.random() >= share:
                continue
            if task.get("msgid"):
                url = f"/sandbox/tasks/{task['msgid']}/confirm"
                expect(self.sandbox("POST", url, {"userid": task["userid"]}), "POST", url, 200)
            url = f"{self.base}/tasks/{task['task_id']}/confirm"
            expect(self.api("POST", url, {}, token=self.w.token), "POST", url, 200)
            c["confirmed"] += 1

    def _all(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            url = f"{path}&limit=100" + (f"&cursor={cursor}" if cursor else "")
            page = expect(self.api("GET", url, token=self.w.token), "GET", url, 200)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def _group(self, n: int, c: Counter[str]) -> None:
        """Today's new customers join the camp group (some), one may leave, members post 打卡 (check-ins)."""
        rng, chat = self.w.rng, self.w.setup.chat_id
        for x in [x for x in self.w.customers if x.day == n and not x.lost and rng.random() < 0.45]:
            body = {"corp_id": self.w.corp_id, "chat_id": chat, "external_userid": x.external_userid}
            self._group_call("/sandbox/group-join", body)
            x.in_group = True
            c["joins"] += 1
        members = [x for x in self.w.customers if x.in_group]
        if members and rng.random() < 0.3:
            x = rng.choice(members)
            body = {"corp_id": self.w.corp_id, "chat_id": chat, "external_userid": x.external_userid}
            self._group_call("/sandbox/group-leave", body)
            x.in_group = False
            c["leaves"] += 1
        for x in [x for x in self.w.customers if x.in_group and rng.random() < 0.6]:
            body = {
                "tenant_id": self.w.tenant_id,
                "chat_id": chat,
                "external_userid": x.external_userid,
                "text": f"Day{n + 1} 打卡✅ 今天刷了{rng.randint(10, 40)}道题",
                "event_id": f"{self.w.run_id}-checkin-{n}-{x.customer_id}",
                "events_secret": self.w.events_secret,
            }
            answer = expect(self.sandbox("POST", "/sandbox/group-message", body), "POST", "/sandbox/group-message", 200)
            if answer.get("status") != 200:
                raise DemoError(f"the group message answered {answer.get('status')}: {answer.get('body')}")
            c["checkins"] += 1

    def _group_call(self, path: str, body: dict[str, Any]) -> None:
        answer = expect(self.sandbox("POST", path, body), "POST", path, 200)
        failed = [cb for cb in answer.get("callbacks", []) if cb.get("callback_status") != 200]
        if failed:
            raise DemoError(f"{path}: a callback answered {failed[0].get('callback_status')}")

    def _spend(self, day: date, c: Counter[str]) -> None:
        for ch in self.w.setup.channels:
            amount = self.w.rng.randint(*ch.spec.spend)
            path = f"{self.base}/channels/{ch.channel_id}/spend/{day.isoformat()}"
            expect(self.api("PUT", path, {"amount": amount}, token=self.w.token), "PUT", path, 200)
            c["spend"] += amount
