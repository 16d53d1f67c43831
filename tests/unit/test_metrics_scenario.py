"""Issue 11 §6: a small day of an institution, played through the services on the in-memory store, and every figure
of the metrics view checked against the hand-computed values of tests/fixtures/metrics_scenario.json. Then the same
day's replays change nothing, the rebuild from the fact log gives the same counters, the CSV export agrees with the
view, and erasing a customer keeps the counts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.business_events import sign
from chalicelib.domain.fate import held_out
from chalicelib.domain.groups import GroupState
from chalicelib.domain.metrics.export import to_csv
from chalicelib.domain.metrics.view import MetricsView
from chalicelib.domain.signals import CHECKIN, GROUP_JOINED, GROUP_LEFT, REPLY, Signal
from chalicelib.domain.sop import CUSTOMER, Subject
from tests.fakes.store import FakeStore
from tests.unit.conftest import make_channel, make_env

SCENARIO = json.loads((Path(__file__).parents[1] / "fixtures" / "metrics_scenario.json").read_text(encoding="utf-8"))
DAY = "2026-12-01"


class Played:
    def __init__(self) -> None:
        self.env = make_env(FakeStore())
        self.ids: dict[str, str] = {}
        self.ext: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self.plan_id = ""

    def event(self, body: dict[str, Any]) -> dict[str, Any]:
        env = self.env
        body = {"occurred_at": env.clock.now().isoformat(), **body}
        raw = json.dumps(body, ensure_ascii=False).encode()
        stamp = str(int(env.clock.now().timestamp()))
        signature = sign(env.tenant.events_secret, stamp, raw)
        return env.svc.events.receive("unit", timestamp=stamp, signature=signature, body=raw)

    def post(self, body: dict[str, Any]) -> None:
        body = {"event_id": f"e{len(self.events) + 1}", "occurred_at": self.env.clock.now().isoformat(), **body}
        self.events.append(body)
        result = self.event(body)
        assert result["results"][0]["status"] == "applied", result

    def view(self, **kw: Any) -> MetricsView:
        return self.env.svc.metrics.view(self.env.tenant, date_from=DAY, date_to=DAY, **kw)


def play() -> Played:
    p = Played()
    env, s = p.env, SCENARIO
    env.clock.current = env.clock.now().replace(hour=2)  # 10:00 in Shanghai: inside every send window
    channels = {}
    for key, c in s["channels"].items():
        staff = {"mode": "single", "userids": [c["staff"]]}
        channels[key] = make_channel(env, name=c["name"], source=c["source"], campaign=c["campaign"], staff=staff)
        p.post({"type": "exposure", "channel_id": channels[key].channel_id, "uv": s["exposures"][key]})
        env.svc.metrics.set_spend(env.tenant, channels[key].channel_id, DAY, s["spend"][key])
    for who, key in s["scans"]:
        fields, result = env.scan(channels[key].state)
        p.ids[who], p.ext[who] = result.customer_id, fields["ExternalUserID"]
    for who in s["lost"]:
        env.clock.advance(minutes=1)
        env.event("del_follow_user", userid=s["channels"]["wx"]["staff"], external_userid=p.ext[who])
    for who, key in s["readds"]:
        env.clock.advance(minutes=1)
        _, readded = env.scan(channels[key].state, external_userid=p.ext[who])
        assert readded.outcome == "readd", readded
    steps = [{"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "同学你好"}}]
    doc = {"name": s["plan"]["name"], "trigger": {"type": "manual"}, "steps": steps}
    plan = env.svc.plans.create(env.tenant, {**doc, "holdout_percent": s["plan"]["holdout_percent"]})
    env.svc.plans.publish(env.tenant, plan.plan_id)
    p.plan_id = plan.plan_id
    for who in s["plan"]["enroll"]:
        assert env.svc.sop.enroll(env.tenant, p.ids[who], plan.plan_id) is not None
    env.clock.advance(minutes=30)
    for who, kind, amount, product in s["orders"]:
        p.post({"type": "order", "customer_id": p.ids[who], "kind": kind, "amount": amount, "product": product})
    for who, text in s["messages"]:
        p.post({"type": "message", "customer_id": p.ids[who], "text": text})
    g = s["group"]
    members = g["members_start"]
    assert env.store.save_group_state(
        "unit", g["chat"], GroupState(name=g["name"], member_count=members), expected_rev=0
    )
    env.store.set_group_members("unit", g["chat"], date="2026-11-30", count=members, at=0)  # the range's start
    rev = 1
    for n in range(g["joins"]):
        members += 1
        assert env.store.save_group_state(
            "unit", g["chat"], GroupState(name=g["name"], member_count=members), expected_rev=rev
        )
        rev += 1
        join = Signal(GROUP_JOINED, env.clock.now(), kind="3", chat_id=g["chat"], ref=f"j{n}")
        env.svc.signals.publish(env.tenant, g["chat"], join)
    for n in range(g["leaves"]):
        members -= 1
        assert env.store.save_group_state(
            "unit", g["chat"], GroupState(name=g["name"], member_count=members), expected_rev=rev
        )
        rev += 1
        leave = Signal(GROUP_LEFT, env.clock.now(), kind="0", chat_id=g["chat"], ref=f"l{n}")
        env.svc.signals.publish(env.tenant, g["chat"], leave)
    for who, ref in g["messages"]:  # a group message: its member's (by customer id) day as a speaker
        env.svc.signals.publish(env.tenant, p.ids[who], Signal(REPLY, env.clock.now(), chat_id=g["chat"], ref=ref))
    for who, ref in g["checkins"]:
        env.svc.signals.publish(env.tenant, p.ids[who], Signal(CHECKIN, env.clock.now(), chat_id=g["chat"], ref=ref))
    return p


@pytest.fixture(scope="module")
def played() -> Played:
    return play()


def rows(view: MetricsView, table: str, key: str) -> dict[str, dict[str, Any]]:
    t = view.table(table)
    assert t is not None
    return {str(r[key]): r for r in t.as_dicts()}


def test_every_channel_figure_matches_the_hand_computed_one(played: Played) -> None:
    view = played.view()
    got = rows(view, "channels", "name")
    for key, expected in SCENARIO["expected"]["channels"].items():
        row = got[SCENARIO["channels"][key]["name"]]
        assert {name: row[name] for name in expected} == pytest.approx(expected), key


def test_campaign_and_source_rows_sum_their_channels(played: Played) -> None:
    by_campaign = rows(played.view(by="campaign"), "channels", "campaign")
    for campaign, expected in SCENARIO["expected"]["campaign"].items():
        assert {k: by_campaign[campaign][k] for k in expected} == pytest.approx(expected)
    by_source = rows(played.view(by="source"), "channels", "source")
    assert by_source["douyin"]["new"] == 4 and by_source["wechat"]["new"] == 2


def test_headlines_products_group_and_cohort(played: Played) -> None:
    view = played.view()
    e = SCENARIO["expected"]
    heads = {h.key: h.value for h in view.headlines}
    assert {k: heads[k] for k in e["headlines"]} == pytest.approx(e["headlines"])
    assert heads["top_churn"] == "客户删除员工"
    products = rows(view, "products", "product")
    for product, expected in e["products"].items():
        assert {k: products[product][k] for k in expected} == expected
    group = rows(view, "groups", "chat_id")[SCENARIO["group"]["chat"]]
    assert {k: group[k] for k in e["group"]} == pytest.approx(e["group"])
    cohort = rows(view, "cohorts", "week")[e["cohort_week"]]
    assert {k: cohort[k] for k in e["cohort"]} == pytest.approx(e["cohort"])


def test_the_funnel_runs_from_exposure_to_the_full_course(played: Played) -> None:
    view = played.view()
    assert [(s.key, s.value) for s in view.funnel] == [("exposures", 500), ("adds", 6), ("trial", 2), ("full", 2)]
    dy = next(c for c in played.env.store.channels.values() if c.name == "抖音直播间")
    one = played.view(value=dy.channel_id)
    assert [s.value for s in one.funnel] == [400, 4, 2, 1]


def test_the_holdout_arm_gets_no_touches_and_the_plan_shows_each_arms_conversion(played: Played) -> None:
    env, s = played.env, SCENARIO
    plan = env.svc.plans.current_plan("unit", played.plan_id)
    assert plan is not None
    enrolled = s["plan"]["enroll"]
    held = {w for w in enrolled if held_out(plan, Subject(CUSTOMER, played.ids[w]), "unit")}
    buyers = {who for who, *_ in s["orders"]}
    view = played.view(by="plan")
    row = rows(view, "plans", "plan_id")[played.plan_id]
    assert (row["enrolled"], row["holdout_enrolled"]) == (len(enrolled) - len(held), len(held))
    assert row["converted"] == len((set(enrolled) - held) & buyers)
    assert row["holdout_converted"] == len(held & buyers)
    steps = rows(view, "steps", "step")
    step = steps[f"{played.plan_id}.1.s1"]
    assert step["holdout"] == len(held) and step["delivered"] == len(enrolled) - len(held)
    treated = row["converted"] / row["enrolled"] if row["enrolled"] else None
    assert row["treated_rate"] == treated
    assert [(f.key, f.value) for f in view.funnel] == [("enrolled", row["enrolled"]), ("converted", row["converted"])]


def test_replays_count_nothing_and_the_rebuild_gives_the_same_counters(played: Played) -> None:
    before = played.view()
    for body in played.events:  # every business event again, as a sender's retry
        assert played.event(body)["results"][0]["status"] == "duplicate"
    assert played.view().tables == before.tables
    store: FakeStore = played.env.store
    live = {key: dict(c) for key, c in store._mx()["counters"].items()}
    store._mx()["counters"].clear()
    report = played.env.svc.metrics.rebuild(played.env.tenant, DAY, DAY)
    assert report["facts"] > 0 and store._mx()["counters"] == live
    assert played.view().tables == before.tables


def test_a_crash_between_the_log_and_the_counters_is_caught_by_the_rebuild() -> None:
    p = play()
    store: FakeStore = p.env.store
    store.crash_after_log = True
    with pytest.raises(RuntimeError):
        p.post({"type": "order", "customer_id": p.ids["c"], "kind": "full", "amount": 100, "product": "冲刺班"})
    assert rows(p.view(), "products", "product").get("冲刺班") is None  # logged, not counted
    p.env.clock.advance(hours=14)  # 00:30 the next day in Shanghai: the nightly rebuild waits for 01:00
    assert p.env.svc.metrics.rebuild_due(p.env.tenant) is None
    p.env.clock.advance(hours=1)
    assert p.env.svc.metrics.rebuild_due(p.env.tenant) is not None
    assert p.env.svc.metrics.rebuild_due(p.env.tenant) is None  # once a night
    assert rows(p.view(), "products", "product")["冲刺班"]["orders"] == 1


def test_the_csv_export_says_what_the_view_says(played: Played) -> None:
    table = played.view().table("channels")
    assert table is not None
    data = to_csv(table)
    assert data.startswith("\ufeff".encode())
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:4] == ["channel_id", "渠道", "曝光", "添加"]
    dy = next(line for line in lines if "抖音直播间" in line).split(",")
    heads = [h for h in lines[0].split(",")]
    assert dy[heads.index("获客成本(CAC)（元）")] == "500.00" and dy[heads.index("销售额（元）")] == "3989.90"


def test_erasing_a_customer_keeps_the_counts(played: Played) -> None:
    p = play()
    before = p.view()
    p.env.svc.customers.erase(p.env.tenant, p.ids["b"])
    after = p.view()
    assert after.table("channels") == before.table("channels") and after.table("products") == before.table("products")
    assert p.ids["b"] not in repr(p.env.store._mx())


def test_tenants_never_meet(played: Played) -> None:
    other = played.env.svc.tenants.create(tenant_id="beta", name="别家", corp_id="wwbeta0000000001", wecom={
        "token": "t", "encoding_aes_key": "b" * 43, "secret": "s"})  # fmt: skip
    view = played.env.svc.metrics.view(other, date_from=DAY, date_to=DAY)
    assert all(h.value in (0, None, "—") or (h.key == "top_churn" and h.value is None) for h in view.headlines)
    assert [s.value for s in view.funnel] == [0, 0, 0, 0]


def test_local_days_follow_the_tenants_zone() -> None:
    p = Played()
    env = p.env
    channel = make_channel(env)
    env.clock.current = env.clock.now().replace(hour=15, minute=59)  # 23:59 in Shanghai, 2026-12-01
    env.scan(channel.state)
    env.clock.advance(minutes=2)  # 00:01 on 2026-12-02 in Shanghai, still 12-01 in UTC
    env.scan(channel.state)
    first = env.svc.metrics.view(env.tenant, date_from="2026-12-01", date_to="2026-12-01")
    second = env.svc.metrics.view(env.tenant, date_from="2026-12-02", date_to="2026-12-02")
    assert [s.value for s in first.funnel][1] == 1 and [s.value for s in second.funnel][1] == 1
    assert env.clock.now() - timedelta(minutes=1) < env.clock.now()


def test_concurrent_duplicates_count_once_and_the_rebuild_agrees() -> None:
    import threading

    p = Played()
    env = p.env
    channel = make_channel(env)
    cid = env.scan(channel.state)[1].customer_id
    body = {"event_id": "dup-1", "type": "order", "customer_id": cid, "kind": "full", "amount": 100,
            "occurred_at": env.clock.now().isoformat()}  # fmt: skip
    results: list[str] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        results.append(p.event(body)["results"][0]["status"])

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["applied"] + ["duplicate"] * 7
    live = rows(p.view(), "channels", "channel_id")[channel.channel_id]
    assert (live["orders"], live["ordering_persons"], live["revenue"]) == (1, 1, 10_000)
    store: FakeStore = env.store
    counted = {key: dict(c) for key, c in store._mx()["counters"].items()}
    store._mx()["counters"].clear()
    env.svc.metrics.rebuild(env.tenant, DAY, DAY)
    assert store._mx()["counters"] == counted


def test_the_rebuild_command_recomputes_a_range_and_refuses_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib import bootstrap
    from chalicelib.jobs import metrics as metrics_job

    p = play()
    store: FakeStore = p.env.store
    live = {key: dict(c) for key, c in store._mx()["counters"].items()}
    store._mx()["counters"].clear()
    bootstrap.override(p.env.svc)
    try:
        assert metrics_job.main(["--tenant", "unit", "--from", DAY, "--to", DAY]) == 0
        printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith('{"from"')]
        assert json.loads(printed[-1])["days"] == 1 and store._mx()["counters"] == live  # (log lines aside)
        assert metrics_job.main(["--tenant", "nobody", "--from", DAY, "--to", DAY]) == 2
        assert "nobody does not exist" in capsys.readouterr().err
        assert metrics_job.main(["--tenant", "unit", "--from", "2026-12-02", "--to", DAY]) == 2
    finally:
        bootstrap.override(None)


def test_an_add_whose_callback_died_before_counting_it_is_caught_up_once() -> None:
    from dataclasses import replace as dc_replace

    p = Played()
    env = p.env
    channel = make_channel(env)
    counted_live = env.scan(channel.state)[1].customer_id  # counted by its callback
    store: FakeStore = env.store
    template = store.customers[("unit", counted_live)]
    lost = dc_replace(template, customer_id="cdiedbeforecounting01", version=1)
    store.customers[("unit", lost.customer_id)] = lost  # stored, then the callback died: no signal, no count
    assert rows(p.view(), "channels", "channel_id")[channel.channel_id]["new"] == 1
    env.clock.advance(minutes=1)
    assert env.svc.metrics.catch_up(env.tenant) == 0  # within the settle time: the callback may still be at work
    env.clock.advance(minutes=3)
    assert env.svc.metrics.catch_up(env.tenant) == 1  # only the uncounted one
    assert env.svc.metrics.catch_up(env.tenant) == 0  # once
    row = rows(p.view(), "channels", "channel_id")[channel.channel_id]
    assert (row["new"], row["adds"]) == (2, 2)


def test_tasks_made_sent_and_confirmed_count_once_each_toward_their_staff() -> None:
    from chalicelib.domain.signals import TASK_CONFIRMED, TASK_SENT

    p = Played()
    env = p.env
    created = env.clock.now() - timedelta(minutes=30)
    for _ in range(2):  # a second sync of the same task, and a confirmation told twice
        sent = Signal(TASK_SENT, env.clock.now(), ref="tk_1", since=created)
        env.svc.signals.publish(env.tenant, "zhang", sent)
        late = Signal(TASK_CONFIRMED, env.clock.now(), ref="tk_2", staff="zhang", since=created - timedelta(hours=3))
        env.svc.signals.publish(env.tenant, "zhang", late)
    today = env.clock.now().astimezone(env.tenant.zone).date().isoformat()
    view = env.svc.metrics.view(env.tenant, date_from=today, date_to=today)
    zhang = rows(view, "staff", "userid")["zhang"]
    assert (zhang["tasks_sent"], zhang["sent_on_time_rate"]) == (1, 1.0)
    assert (zhang["tasks_confirmed"], zhang["on_time_rate"], zhang["latency_p50"]) == (1, 0.0, 14400)


def test_touches_per_customer_per_week_divide_the_weeks_touches_by_the_customers_reached() -> None:
    from datetime import date

    p = play()
    env = p.env
    heads = {h.key: h.value for h in p.view().headlines}
    assert heads["touches_per_customer_week"] is None  # not counted yet: the nightly job has not run
    monday = date(2026, 11, 30)  # the ISO week of 2026-12-01
    enrolled = SCENARIO["plan"]["enroll"]
    step = rows(p.view(by="plan"), "steps", "step")[f"{p.plan_id}.1.s1"]
    reached = env.svc.metrics.count_touched(env.tenant, monday)
    assert reached == step["delivered"] == len(enrolled) - step["holdout"]  # each reached customer once
    assert env.svc.metrics.count_touched(env.tenant, monday) == reached  # a recount replaces, never adds
    week = env.svc.metrics.view(env.tenant, date_from=DAY, date_to=DAY)
    assert {h.key: h.value for h in week.headlines}["touches_per_customer_week"] == (1.0 if reached else None)
