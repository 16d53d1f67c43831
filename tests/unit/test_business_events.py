"""Business events against the in-memory store: the signature, whole-body validation, each type's effect, and
exactly-once under replays and concurrent duplicates. The SOP engine is a recording fake
(tests/fakes/business_events.py)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.business_events import event_digest, order_stage, sign, verify_signature
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.facts import Alias
from chalicelib.domain.tenants import EVENTS_SECRET_GRACE_SECONDS, Tenant
from chalicelib.errors import InvalidError, PayloadTooLargeError, UnauthorizedError, UpstreamError
from chalicelib.ports import Signal
from chalicelib.services.business_events import EventService
from tests.fakes.business_events import RecordingSignals, RecordingTasks
from tests.fakes.store import FakeStore
from tests.unit.conftest import Env, make_channel, make_env

AT = "2026-12-01T19:55:00+08:00"  # five minutes before the fixed clock (12:00 UTC)


@dataclass
class Events:
    env: Env
    svc: EventService
    signals: RecordingSignals
    tasks: RecordingTasks

    @property
    def secret(self) -> str:
        return self.env.store.get_tenant("unit").events_secret

    def post(
        self, body: Any, *, ts: int | None = None, secret: str | None = None, signature: str | None = None
    ) -> dict[str, Any]:
        """Sign and send ``body`` as a sender would (timestamp = the fixed clock unless given)."""
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        stamp = str(ts if ts is not None else int(self.env.clock.epoch()))
        sig = signature if signature is not None else sign(secret or self.secret, stamp, raw)
        return self.svc.receive("unit", timestamp=stamp, signature=sig, body=raw)

    def customer(self, customer_id: str) -> Customer:
        c = self.env.store.get_customer("unit", customer_id)
        assert c is not None
        return c

    def scanned(self) -> tuple[str, str]:
        """A customer scanned in through a channel: (customer_id, external_userid)."""
        fields, result = self.env.scan(make_channel(self.env).state)
        return result.customer_id, fields["ExternalUserID"]


@pytest.fixture
def ev() -> Events:
    env = make_env(FakeStore())
    signals, tasks = RecordingSignals(), RecordingTasks()
    return Events(env, EventService(env.store, env.clock, signals, tasks), signals, tasks)


def order(event_id: str, customer_id: str, kind: str = "trial", **over: Any) -> dict[str, Any]:
    body = {"event_id": event_id, "type": "order", "customer_id": customer_id, "occurred_at": AT, "kind": kind}
    return {**body, "amount": 99, "product": "考研政治体验课", **over}


def message(event_id: str, customer_id: str, text: str, **over: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "message",
        "customer_id": customer_id,
        "occurred_at": AT,
        "text": text,
        **over,
    }


def statuses(result: dict[str, Any]) -> list[str]:
    return [r["status"] for r in result["results"]]


# --- signature ----------------------------------------------------------------------------------------------------


def test_signed_event_is_applied_and_the_signature_covers_timestamp_and_body(ev: Events) -> None:
    cid, _ = ev.scanned()
    assert ev.secret  # generated when the tenant was created
    result = ev.post(order("o1", cid))
    assert result == {"results": [{"event_id": "o1", "status": "applied", "customer_id": cid}]}
    raw, ts = b'{"a":1}', "1764590400"
    expected = "sha256=" + __import__("hmac").new(ev.secret.encode(), b"1764590400." + raw, "sha256").hexdigest()
    assert sign(ev.secret, ts, raw) == expected


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong_secret", "bad_signature"),
        ("tampered_body", "bad_signature"),
        ("missing_signature", "bad_signature"),
        ("missing_timestamp", "bad_signature"),
        ("not_hex", "bad_signature"),
        ("stale", "stale_timestamp"),
        ("ahead", "stale_timestamp"),
    ],
)
def test_bad_signatures_are_refused_before_anything_is_read(ev: Events, case: str, code: str) -> None:
    cid, _ = ev.scanned()
    raw = json.dumps(order("o1", cid)).encode()
    now = int(ev.env.clock.epoch())
    stamp, sig = str(now), sign(ev.secret, str(now), raw)
    if case == "wrong_secret":
        sig = sign("not-the-secret", stamp, raw)
    elif case == "tampered_body":
        raw = raw.replace(b"99", b"1")
    elif case == "missing_signature":
        sig = ""
    elif case == "missing_timestamp":
        stamp = ""
    elif case == "not_hex":
        sig = "sha256=" + "z" * 64
    elif case == "stale":
        stamp = str(now - 301)
        sig = sign(ev.secret, stamp, raw)
    elif case == "ahead":
        stamp = str(now + 301)
        sig = sign(ev.secret, stamp, raw)
    with pytest.raises(UnauthorizedError) as exc:
        ev.svc.receive("unit", timestamp=stamp, signature=sig, body=raw)
    assert exc.value.code == code and exc.value.status == 401
    assert ev.customer(cid).stage == Stage.NEW and ev.signals.received == []


def test_the_replay_window_edge_is_inclusive_and_configurable(ev: Events) -> None:
    cid, _ = ev.scanned()
    now = int(ev.env.clock.epoch())
    assert statuses(ev.post(order("o1", cid), ts=now - 300)) == ["applied"]
    strict = EventService(ev.env.store, ev.env.clock, ev.signals, ev.tasks, replay_window=10)
    raw = json.dumps(order("o2", cid)).encode()
    with pytest.raises(UnauthorizedError):
        strict.receive("unit", timestamp=str(now - 11), signature=sign(ev.secret, str(now - 11), raw), body=raw)


def test_a_replay_with_a_fresh_timestamp_is_a_duplicate_without_a_second_effect(ev: Events) -> None:
    cid, _ = ev.scanned()
    body = order("o1", cid)
    assert statuses(ev.post(body)) == ["applied"]
    ev.env.clock.advance(minutes=30)  # the first request's timestamp is stale now: re-signed, same event_id
    again = ev.post(body)
    assert again == {"results": [{"event_id": "o1", "status": "duplicate", "customer_id": cid}]}
    assert [s.type for s in ev.signals.of(cid)] == ["order", "stage"]
    assert ev.customer(cid).version == 2  # the scan created it (1), the order moved it (2), the replay nothing


def test_rotating_the_events_secret_retires_the_old_one_after_the_grace_period(ev: Events) -> None:
    cid, _ = ev.scanned()
    old = ev.secret
    new = ev.env.svc.tenants.update("unit", {"rotate_events_secret": True}).events_secret
    assert new and new != old
    assert statuses(ev.post(order("o1", cid), secret=new)) == ["applied"]  # the new one at once
    ev.env.clock.advance(seconds=EVENTS_SECRET_GRACE_SECONDS - 1)
    assert statuses(ev.post(order("o2", cid), secret=old)) == ["applied"]  # the old one until the grace ends
    ev.env.clock.advance(seconds=1)
    with pytest.raises(UnauthorizedError) as exc:
        ev.post(order("o3", cid), secret=old)
    assert exc.value.code == "bad_signature"
    assert statuses(ev.post(order("o3", cid), secret=new)) == ["applied"]


def test_rotating_twice_retires_the_oldest_secret_at_once(ev: Events) -> None:
    cid, _ = ev.scanned()
    first = ev.secret
    second = ev.env.svc.tenants.update("unit", {"rotate_events_secret": True}).events_secret
    third = ev.env.svc.tenants.update("unit", {"rotate_events_secret": True}).events_secret
    with pytest.raises(UnauthorizedError):
        ev.post(order("o1", cid), secret=first)  # only one previous secret is kept
    assert statuses(ev.post(order("o1", cid), secret=second)) == ["applied"]
    assert statuses(ev.post(order("o2", cid), secret=third)) == ["applied"]


def test_a_tenant_without_an_events_secret_is_told_how_to_enable_events(ev: Events) -> None:
    ev.env.store.put_tenant(replace(ev.env.store.get_tenant("unit"), events_secret=""))
    with pytest.raises(UnauthorizedError) as exc:
        ev.post({"events": []}, secret="anything")
    assert exc.value.code == "events_disabled"


def test_unknown_tenant_fails_like_a_bad_signature_and_oversized_body(ev: Events) -> None:
    stamp = str(int(ev.env.clock.epoch()))
    with pytest.raises(UnauthorizedError) as exc:  # never 404: tenant ids are not enumerable
        ev.svc.receive("nobody", timestamp=stamp, signature="sha256=" + "0" * 64, body=b"{}")
    assert exc.value.code == "bad_signature" and "nobody" not in exc.value.message
    with pytest.raises(UnauthorizedError) as missing:
        ev.svc.receive("nobody", timestamp=None, signature=None, body=b"{}")
    assert missing.value.code == "bad_signature"
    with pytest.raises(PayloadTooLargeError):
        ev.post(b"{" + b" " * (256 * 1024) + b"}")


def test_verify_signature_accepts_uppercase_hex_and_surrounding_space() -> None:
    sig = sign("s3cret", "100", b"{}")
    verify_signature(
        "s3cret", timestamp=" 100 ", signature=" " + sig.upper().replace("SHA256", "sha256"), body=b"{}", now=100
    )


# --- validation ---------------------------------------------------------------------------------------------------


def test_a_batch_is_validated_whole_and_every_error_is_listed_with_its_index(ev: Events) -> None:
    cid, _ = ev.scanned()
    batch = {
        "events": [
            order("o1", cid),  # valid, yet not applied: the batch is refused whole
            {"event_id": "o2", "type": "order", "customer_id": cid, "occurred_at": "2026-12-01T20:00:00", "kind": "x"},
            message("m1", cid, "hi", external_userid="wmX", amount=5),
            {"event_id": "x" * 129, "type": "teleport", "occurred_at": AT, "customer_id": cid},
            {
                "event_id": "e1",
                "type": "exposure",
                "occurred_at": AT,
                "channel_id": "ch_abcd",
                "uv": -1,
                "customer_id": cid,
            },
            "not an object",
        ]
    }
    with pytest.raises(InvalidError) as exc:
        ev.post(batch)
    paths = [d["path"] for d in exc.value.details]
    assert "/events/0" not in " ".join(paths)
    for expected in (
        "/events/1/kind",  # not trial|full
        "/events/1/occurred_at",  # no offset
        "/events/2",  # amount is not a message field; two customer references
        "/events/3/event_id",
        "/events/3/type",
        "/events/4/uv",
        "/events/4/customer_id",  # exposure is about no customer
        "/events/5",
    ):
        assert expected in paths, (expected, exc.value.details)
    assert any("amount" in d["message"] for d in exc.value.details if d["path"] == "/events/2")
    assert any("required" in d["message"] and "amount" in d["message"] for d in exc.value.details)
    assert paths == sorted(paths, key=lambda p: [int(x) if x.isdigit() else -1 for x in p.split("/")[2:3]])
    assert ev.customer(cid).stage == Stage.NEW and ev.signals.received == []


def test_single_event_errors_point_into_the_body_and_batches_have_limits(ev: Events) -> None:
    with pytest.raises(InvalidError) as exc:
        ev.post({"event_id": "o1", "type": "order", "occurred_at": "2026-12-01T25:00:00+08:00", "kind": "trial"})
    messages = [(d["path"], d["message"]) for d in exc.value.details]
    assert ("/", "'amount' is a required property") in messages
    assert ("/", "give exactly one of customer_id and external_userid") in messages
    assert ("/occurred_at", "is not an ISO-8601 time with an offset") in messages  # hour 25
    bodies: list[Any] = [{"events": []}, {"events": [{}] * 101}, {"events": "x"}, {"events": [], "extra": 1}, [1, 2]]
    for body in bodies:
        with pytest.raises(InvalidError):
            ev.post(body)
    with pytest.raises(InvalidError) as exc:
        ev.post(b"{not json")
    assert "JSON" in exc.value.message
    future = (ev.env.clock.now() + timedelta(hours=1)).isoformat()
    with pytest.raises(InvalidError) as exc:
        ev.post({"event_id": "c1", "type": "checkin", "customer_id": "cabcdefgh", "occurred_at": future})
    assert exc.value.details == [{"path": "/occurred_at", "message": "is in the future"}]


# --- orders -------------------------------------------------------------------------------------------------------


def test_orders_move_the_lifecycle_forward_only_and_tell_the_sop_engine(ev: Events) -> None:
    cid, _ = ev.scanned()
    ev.post(order("o1", cid, "trial"))
    assert ev.customer(cid).stage == Stage.TRIAL
    ref = event_digest(ev.env.tenant, "o1")  # the fact's identity: a replay of the order carries the same one
    told = Signal("order", ev.signals.of(cid)[0].at, kind="trial", ref=ref, amount=9900, product="考研政治体验课")
    assert ev.signals.of(cid)[0] == told  # the amount in fen and the product: what the metrics count
    assert ev.signals.of(cid, "stage")[0].stage == "trial"
    ev.post(order("o2", cid, "full", amount=3980))
    assert ev.customer(cid).stage == Stage.CONVERTED
    version = ev.customer(cid).version
    assert statuses(ev.post(order("o3", cid, "trial"))) == ["applied"]  # a later trial: recorded, not backwards
    assert ev.customer(cid).stage == Stage.CONVERTED and ev.customer(cid).version == version
    assert [s.kind for s in ev.signals.of(cid, "order")] == ["trial", "full", "trial"]
    assert [s.stage for s in ev.signals.of(cid, "stage")] == ["trial", "converted"]
    fact = ev.env.store.get_event_fact("unit", cid, event_digest(ev.env.tenant, "o2"))
    assert fact.type == "order" and fact.at == AT and fact.userid == "zhang"
    assert fact.detail == {"event_id": "o2", "kind": "full", "amount": 3980, "product": "考研政治体验课"}


def test_order_stage_rules() -> None:
    assert order_stage(Stage.NEW, "trial") == Stage.TRIAL
    assert order_stage(Stage.HOT, "full") == Stage.CONVERTED
    assert order_stage(Stage.TRIAL, "trial") == Stage.TRIAL
    assert order_stage(Stage.CONVERTED, "trial") == Stage.CONVERTED
    assert order_stage(Stage.LOST, "full") == Stage.LOST


def test_an_order_of_a_lost_customer_is_what_a_re_add_restores(ev: Events) -> None:
    cid, ext = ev.scanned()
    ev.env.event("del_follow_user", userid="zhang", external_userid=ext)
    assert ev.customer(cid).stage == Stage.LOST
    ev.post(order("o1", cid, "full"))
    c = ev.customer(cid)
    assert c.stage == Stage.LOST and c.stage_before_lost == Stage.CONVERTED


def test_external_userid_resolves_like_intake_including_merged_contacts(ev: Events) -> None:
    cid, ext = ev.scanned()
    result = ev.post(_by_ext(order("o1", cid), ext))
    assert result["results"] == [{"event_id": "o1", "status": "applied", "customer_id": cid}]
    other, _ = ev.scanned()
    digest = ev.env.tenant.hmac_hex("ext:wm_merged_contact")
    ev.env.store.put_alias("unit", Alias("ext", digest, other))  # a contact intake merged into `other` (撞单)
    result = ev.post(_by_ext(order("o2", cid), "wm_merged_contact"))
    assert result["results"][0]["customer_id"] == other and ev.customer(other).stage == Stage.TRIAL


def _by_ext(body: dict[str, Any], external_userid: str) -> dict[str, Any]:
    body = dict(body)
    body.pop("customer_id")
    return {**body, "external_userid": external_userid}


def test_unknown_customers_do_not_fail_the_batch(ev: Events) -> None:
    cid, _ = ev.scanned()
    result = ev.post(
        {"events": [order("o1", "cnobody00000000000000"), _by_ext(order("o2", cid), "wm_stranger"), order("o3", cid)]}
    )
    assert result["results"] == [
        {"event_id": "o1", "status": "unknown_customer"},
        {"event_id": "o2", "status": "unknown_customer"},
        {"event_id": "o3", "status": "applied", "customer_id": cid},
    ]
    erased = ev.env.tenant.hmac_hex("ext:wm_gone")
    ev.env.store.put_alias("unit", Alias("ext", erased, "", erased_at=1))  # an erasure tombstone
    assert statuses(ev.post(_by_ext(order("o4", cid), "wm_gone"))) == ["unknown_customer"]


# --- replies ------------------------------------------------------------------------------------------------------


def test_a_positive_reply_makes_the_customer_hot_and_gives_the_owner_a_follow_up(ev: Events) -> None:
    cid, _ = ev.scanned()
    result = ev.post(message("m1", cid, "老师，这个课多少钱？"))
    assert result["results"] == [{"event_id": "m1", "status": "applied", "customer_id": cid, "reply": "positive"}]
    c = ev.customer(cid)
    assert c.stage == Stage.HOT and c.last_inbound_at == AT and not c.suppress_marketing
    [task] = ev.tasks.tasks.values()
    # The reply's class is the task's reason; the customer's words are never stored (docs/data-model.md).
    assert task.owner_userid == "zhang" and task.reason == "positive_reply" and task.text == ""
    assert task.due == ev.env.clock.now() + timedelta(minutes=15)
    assert list(ev.tasks.tasks) == [f"unit#{event_digest(ev.env.tenant, 'm1')}"]
    assert [(s.type, s.kind, s.stage) for s in ev.signals.of(cid)] == [
        ("reply", "positive", None),
        ("stage", None, "hot"),
    ]
    fact = ev.env.store.get_event_fact("unit", cid, event_digest(ev.env.tenant, "m1"))
    assert fact.detail == {"event_id": "m1", "reply": "positive"}  # the text itself is not kept


def test_a_negative_reply_suppresses_marketing_and_signals_an_exit(ev: Events) -> None:
    cid, _ = ev.scanned()
    ev.post(message("m1", cid, "不需要了，别发了", chat_id="wrchat1"))
    c = ev.customer(cid)
    assert c.suppress_marketing and c.stage == Stage.NEW and ev.tasks.tasks == {}
    assert [(s.type, s.kind) for s in ev.signals.of(cid)] == [("reply", "negative")]
    ev.post(message("m2", cid, "报名怎么报？"))  # interest later: hot and followed up, still no marketing
    assert ev.customer(cid).suppress_marketing and ev.customer(cid).stage == Stage.HOT


def test_any_reply_resets_silence_and_a_late_one_never_moves_last_inbound_back(ev: Events) -> None:
    cid, _ = ev.scanned()
    ev.post(message("m1", cid, "收到，谢谢"))
    assert [(s.type, s.kind) for s in ev.signals.of(cid)] == [("reply", None)]
    assert ev.customer(cid).stage == Stage.NEW and ev.customer(cid).last_inbound_at == AT
    ev.post(message("m0", cid, "在吗", occurred_at="2026-12-01T08:00:00+08:00"))
    assert ev.customer(cid).last_inbound_at == AT


def test_a_trial_customer_asking_the_price_is_followed_up_but_stays_trial(ev: Events) -> None:
    cid, _ = ev.scanned()
    ev.post(order("o1", cid))
    ev.post(message("m1", cid, "正价课多少钱"))
    assert ev.customer(cid).stage == Stage.TRIAL and len(ev.tasks.tasks) == 1


def test_tenant_keywords_replace_the_defaults(ev: Events) -> None:
    cid, _ = ev.scanned()
    ev.env.svc.tenants.update("unit", {"reply_keywords": {"positive": ["价格", "PRICE"]}})
    assert ev.post(message("m1", cid, "多少钱"))["results"][0].get("reply") is None
    assert ev.post(message("m2", cid, "what's the price?"))["results"][0]["reply"] == "positive"
    assert ev.post(message("m3", cid, "退订"))["results"][0]["reply"] == "negative"  # negatives kept their defaults
    ev.env.svc.tenants.update("unit", {"reply_keywords": {"positive": []}})  # empty: back to the defaults
    assert ev.post(message("m4", cid, "多少钱"))["results"][0]["reply"] == "positive"


# --- other types --------------------------------------------------------------------------------------------------


def test_checkin_share_custom_record_a_fact_and_signal_without_touching_the_customer(ev: Events) -> None:
    cid, _ = ev.scanned()
    before = ev.customer(cid)
    result = ev.post(
        {
            "events": [
                {"event_id": "k1", "type": "checkin", "customer_id": cid, "occurred_at": AT, "streak": 3},
                {"event_id": "s1", "type": "share", "customer_id": cid, "occurred_at": AT, "referred": 2},
                {
                    "event_id": "u1",
                    "type": "custom",
                    "customer_id": cid,
                    "occurred_at": AT,
                    "name": "观看直播",
                    "properties": {"minutes": 42},
                },
            ]
        }
    )
    assert statuses(result) == ["applied"] * 3
    assert ev.customer(cid) == before
    assert [(s.type, s.kind) for s in ev.signals.of(cid)] == [
        ("checkin", None),
        ("share", None),
        ("custom", "观看直播"),
    ]
    fact = ev.env.store.get_event_fact("unit", cid, event_digest(ev.env.tenant, "u1"))
    assert fact.detail == {"event_id": "u1", "name": "观看直播", "properties": {"minutes": 42}}


def test_exposure_adds_uv_to_the_channel_day_exactly_once(ev: Events) -> None:
    ch = make_channel(ev.env)
    body = {
        "event_id": "x1",
        "type": "exposure",
        "occurred_at": "2026-12-01T00:30:00+08:00",
        "channel_id": ch.channel_id,
    }
    assert ev.post({**body, "uv": 120})["results"] == [{"event_id": "x1", "status": "applied"}]
    assert ev.post({**body, "uv": 120})["results"] == [{"event_id": "x1", "status": "duplicate"}]
    ev.post({**body, "event_id": "x2", "uv": 30})
    assert ev.env.store.channel_metrics("unit", ch.channel_id, "2026-12-01") == {"uv": 150}  # tenant-local day
    unknown = ev.post({**body, "event_id": "x3", "channel_id": "ch_nosuchchannel", "uv": 1})
    assert statuses(unknown) == ["unknown_channel"]
    assert ev.signals.received == []


# --- exactly once -------------------------------------------------------------------------------------------------


def test_duplicates_inside_one_batch_apply_once(ev: Events) -> None:
    cid, _ = ev.scanned()
    result = ev.post({"events": [message("m1", cid, "多少钱"), message("m1", cid, "多少钱")]})
    assert statuses(result) == ["applied", "duplicate"]
    assert len(ev.signals.of(cid, "reply")) == 1 and ev.tasks.requests == 1


class SlowReads(FakeStore):
    """Every reader waits for the others, so concurrent deliveries all decide on the same stale state."""

    barrier: threading.Barrier | None = None

    def load_event_target(self, tenant_id: str, customer_id: str, digest: str) -> tuple[Customer | None, bool]:
        found = super().load_event_target(tenant_id, customer_id, digest)
        if self.barrier is not None:
            try:
                self.barrier.wait(timeout=2)
            except threading.BrokenBarrierError:
                pass
        return found


def test_concurrent_duplicates_have_one_effect() -> None:
    env = make_env(SlowReads())
    signals, tasks = RecordingSignals(), RecordingTasks()
    ev = Events(env, EventService(env.store, env.clock, signals, tasks), signals, tasks)
    cid, _ = ev.scanned()
    threads = 6
    env.store.barrier = threading.Barrier(threads)
    results: list[str] = []
    lock = threading.Lock()

    def deliver() -> None:
        out = ev.post({"events": [message("m1", cid, "想报名，怎么买"), order("o1", cid)]})
        with lock:
            results.extend(statuses(out))

    workers = [threading.Thread(target=deliver) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(results) == ["applied"] * 2 + ["duplicate"] * (2 * threads - 2)
    assert [s.kind for s in signals.of(cid, "reply")] == ["positive"]
    assert [s.kind for s in signals.of(cid, "order")] == ["trial"]
    assert tasks.requests == 1 and ev.customer(cid).stage == Stage.TRIAL


class FailingSignals(RecordingSignals):
    def publish(self, tenant: Tenant, customer_id: str, signal: Signal) -> None:
        raise UpstreamError("the SOP engine is down")


def test_a_failing_sop_engine_does_not_fail_a_recorded_event(ev: Events) -> None:
    cid, _ = ev.scanned()
    svc = EventService(ev.env.store, ev.env.clock, FailingSignals(), ev.tasks)
    raw = json.dumps(message("m1", cid, "试听课怎么报")).encode()
    stamp = str(int(ev.env.clock.epoch()))
    result = svc.receive("unit", timestamp=stamp, signature=sign(ev.secret, stamp, raw), body=raw)
    assert statuses(result) == ["applied"] and len(ev.tasks.tasks) == 1
    assert ev.customer(cid).stage == Stage.HOT
