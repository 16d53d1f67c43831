"""The simulator and the engine agree (issue 8 §2): Hypothesis generates plans, cohorts and event streams, runs them
through ``domain.simulate.trace`` and through the real engine (``make_env``: the services ``bootstrap.build`` wires,
on the in-memory store, with a virtual clock), and every touch occurrence must come out the same: its state (sent,
skipped, dropped, or skipped ``moved:<rule>`` for an occurrence a move closed), its due minute, its reason and the
minute it was decided.

Generated: touch rules (quiet hours, content windows, daily caps, a monthly receive limit the runs cross a month end
for), plans of 1–4 steps (content types with and without caps, ``on_cap`` defer and drop, lateness skip and
next_slot with 0–240 minutes), their exit rules (order trial/full/any, negative reply, tag, stage) and audiences
(tags, stages, with and without the recheck), a holdout of 0, 30 or 50% (issue 11 §2: the simulator holds out the
customers the engine does, by the engine's own customer ids and tenant), 1–3 customers and up to 3 events each
(trial and full orders, positive, negative and neutral replies, tags).

The shared scope, inside what the simulator's docstring says it models:
- one published plan with a manual trigger and no silence rule (silence timers are the lifecycle job's); no other
  plan, so no priority contest (tests/unit/test_fate.py covers ``outranked``);
- customers join without tags as new customers, and their events come strictly after their join (the engine fires a
  due-now first touch inside ``enroll``, before an event at the same instant);
- step ids sort in the plan's order (the backstop fires same-minute buckets in bucket-id order);
- times on a five-minute grid, so a touch is never queued within a minute of its due time (the engine then fires it
  at once, possibly with another customer's touches in the same bucket; the simulator gives each customer a clock);
- each plan times all its steps one way (``after_minutes`` or ``day``/``at``), which validation keeps in order. A
  plan mixing the two can queue a step after its due time next to a moved occurrence due at once; the engine fires
  such same-instant touches in set order (arbitrary, so the cap and the completion can go either way).

The engine is driven only through its public entry points (``enroll``, ``backstop`` = ``fire`` of every due bucket,
business events ``apply``); reading the fake store's touches and writing a tag are the helpers below.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.domain.business_events import parse_event
from chalicelib.domain.plans import Plan
from chalicelib.domain.simulate import SimCustomer, SimEvent, SimOccurrence, trace
from chalicelib.domain.touch_rules import rules_from_text
from tests.fakes.store import FakeStore
from tests.unit.conftest import Env, make_env

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 28, 0, 0, tzinfo=ZONE)  # the runs cross into December: monthly limits reset
DAYS = 4
TAGS = ("意向A", "意向B")
TEXTS = {"positive": "请问多少钱？", "negative": "别发了", "neutral": "好的"}

Row = tuple[str, str, int, datetime, str, str | None, datetime]

# --- strategies -------------------------------------------------------------------------------------------------

WINDOWS = {
    "quiet": [None, ("22:00", "08:00"), ("23:00", "06:30")],
    "interactive": [None, ("08:00", "18:00"), ("09:00", "12:00")],
    "marketing": [None, ("18:00", "22:00"), ("12:00", "14:00")],
}


@st.composite
def touch_rules(draw: st.DrawFn) -> dict[str, Any]:
    quiet = draw(st.sampled_from(WINDOWS["quiet"]))
    windows = {}
    for kind in ("interactive", "marketing"):
        window = draw(st.sampled_from(WINDOWS[kind]))
        if window:
            windows[kind] = {"start": window[0], "end": window[1]}
    caps = {}
    for kind, choices in (("marketing", [None, 1, 2]), ("interactive", [None, 1]), ("service", [None, 1])):
        cap = draw(st.sampled_from(choices))
        if cap:
            caps[kind] = cap
    return {
        "quiet_hours": {"start": quiet[0], "end": quiet[1]} if quiet else None,
        "content_windows": windows,
        "daily_caps": caps,
        "monthly_receive_limit": draw(st.sampled_from([None, 2, 4])),
    }


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 4))
    minutes = sorted(draw(st.lists(st.integers(0, 3 * 288).map(lambda k: k * 5), min_size=n, max_size=n)))
    calendar = sorted(draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 47)), min_size=n, max_size=n)))
    forms = [draw(st.booleans())] * n  # one timing form per plan (see the module docstring)
    out = []
    for i, by_minutes in enumerate(forms):
        # within each timing form the steps stay in list order, as plan validation requires
        timing: dict[str, Any] = (
            {"after_minutes": minutes[i]}
            if by_minutes
            else {"day": calendar[i][0], "at": f"{calendar[i][1] // 2:02d}:{calendar[i][1] % 2 * 30:02d}"}
        )
        out.append(
            {
                "id": f"s{i + 1}",
                "content_type": draw(st.sampled_from(["interactive", "marketing", "service", "content"])),
                "message": {"text": f"第{i + 1}步"},
                **timing,
                "lateness": {
                    "max_minutes": draw(st.sampled_from([0, 30, 60, 240])),
                    "then": draw(st.sampled_from(["next_slot", "skip"])),
                },
                "on_cap": draw(st.sampled_from(["defer", "drop"])),
            }
        )
    return out


EXITS = [
    {"type": "order", "kind": "trial"},
    {"type": "order", "kind": "full"},
    {"type": "order"},
    {"type": "negative_reply"},
    {"type": "tag", "tag_id": TAGS[0]},
    {"type": "stage", "stage": "trial"},
    {"type": "stage", "stage": "hot"},
]
AUDIENCES: list[dict[str, Any]] = [
    {},
    {"tags_none": [TAGS[1]]},
    {"stages": ["new"]},
    {"stages": ["new", "hot", "trial"]},
    {"tags_none": [TAGS[0]], "recheck_at_fire": False},
]


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "name": "差分计划",
        "trigger": {"type": "manual"},
        "steps": draw(steps()),
        "exit": draw(st.lists(st.sampled_from(EXITS), max_size=2, unique_by=lambda e: str(sorted(e.items())))),
        "audience": draw(st.sampled_from(AUDIENCES)),
        "reentry": "never",
        "holdout_percent": draw(st.sampled_from([0, 0, 30, 50])),
    }


def events(joined: int) -> st.SearchStrategy[list[tuple[int, str, str]]]:
    """(minute offset from START, type, detail) strictly after the join, on the five-minute grid."""
    kinds = st.one_of(
        st.tuples(st.just("order"), st.sampled_from(["trial", "full"])),
        st.tuples(st.just("reply"), st.sampled_from(sorted(TEXTS))),
        st.tuples(st.just("tag"), st.sampled_from(TAGS)),
    )
    at = st.integers(joined // 5 + 1, (joined + DAYS * 1440) // 5).map(lambda k: k * 5)
    return st.lists(st.tuples(at, kinds).map(lambda p: (p[0], *p[1])), max_size=3).map(sorted)


@st.composite
def cohorts(draw: st.DrawFn) -> list[tuple[int, list[tuple[int, str, str]]]]:
    joins = draw(st.lists(st.integers(0, 2 * 288).map(lambda k: k * 5), min_size=1, max_size=3))
    return [(j, draw(events(j))) for j in joins]


# --- the engine, driven as the scheduler and a tenant's systems would ---------------------------------------------


def _touches(env: Env) -> list[Any]:
    """Every touch the engine wrote (the fake store's view: the one place this test reads store internals)."""
    return list(env.store._sop()["touches"].values())


def _bucket_minutes(env: Env) -> set[datetime]:
    """The minutes the engine's schedules fire at (a bucket id ends with its UTC minute)."""
    out = set()
    for item in env.scheduler.schedules.values():
        minute = item["payload"]["bucket_id"].rsplit(".", 1)[1]
        out.add(datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=UTC))
    return out


def run_engine(
    rules: dict[str, Any], doc: dict[str, Any], cohort: list[tuple[int, list[tuple[int, str, str]]]]
) -> tuple[Plan, dict[str, str], list[Row], dict[str, str]]:
    """The touch occurrences the engine records for ``cohort``, each decided within ``DAYS`` of its customer's join."""
    env = make_env(FakeStore())
    env.clock.current = START.astimezone(UTC)
    group = env.svc.tags.create_group(env.tenant, name="意向", exclusive=False, tags=list(TAGS))
    tag_ids = {t.name: t.tag_id for t in group.tags}
    env.svc.tenants.set_touch_rules("unit", rules)
    tenant = env.svc.tenants.get("unit")
    plan = env.svc.plans.create(tenant, doc)
    plan = env.svc.plans.publish(tenant, plan.plan_id)
    # (instant, 0 = business event / 1 = join, customer index, what)
    actions: list[tuple[datetime, int, int, Any]] = []
    for n, (joined, stream) in enumerate(cohort):
        actions.append((START + timedelta(minutes=joined), 1, n, None))
        actions.extend((START + timedelta(minutes=at), 0, n, (kind, detail)) for at, kind, detail in stream)
    actions.sort(key=lambda a: (a[0], a[1], a[2]))
    ids: dict[int, str] = {}
    fired: dict[str, datetime] = {}  # touch key + bucket → when it left "scheduled"
    end = START + timedelta(minutes=max(j for j, _ in cohort) + DAYS * 1440)
    now = START.astimezone(UTC) - timedelta(minutes=1)
    while True:
        upcoming = [m for m in _bucket_minutes(env) if m > now] + ([actions[0][0]] if actions else [])
        nxt = min(upcoming, default=None)
        if nxt is None or nxt > end:
            break
        now = nxt.astimezone(UTC)
        env.clock.current = now
        while actions and actions[0][0] == now:
            _, what, n, detail = actions.pop(0)
            if what == 1:
                _, result = env.event(
                    "add_external_contact", userid="zhang", external_userid=f"wmdiff{n:026d}", State=""
                )
                ids[n] = result.customer_id
                assert env.svc.sop.enroll(tenant, ids[n], plan.plan_id) is not None
            else:
                _deliver(env, tenant, ids[n], detail, tag_ids, now)
        env.svc.sop.backstop("unit")
        for t in _touches(env):
            if t.state != "scheduled":
                fired.setdefault(f"{t.bucket_id}|{t.key}", now)
    names = {cid: f"c{n}" for n, cid in ids.items()}
    horizons = {f"c{n}": START + timedelta(minutes=joined, days=DAYS) for n, (joined, _) in enumerate(cohort)}
    rows = [
        (
            names[t.customer_id],
            t.step_id,
            t.occurrence,
            datetime.fromisoformat(t.due_at).astimezone(UTC),
            t.state,
            t.reason,
            fired[f"{t.bucket_id}|{t.key}"],
        )
        for t in _touches(env)
        if t.state != "scheduled"
    ]
    rows = [r for r in rows if r[6] <= horizons[r[0]]]
    return env.svc.plans.get("unit", plan.plan_id), tag_ids, rows, {name: cid for cid, name in names.items()}


def _deliver(
    env: Env, tenant: Any, customer_id: str, what: tuple[str, str], tags: dict[str, str], now: datetime
) -> None:
    kind, detail = what
    if kind == "tag":  # a tag added in WeCom: the customer record changes as the tag sync would change it
        current = env.store.get_customer("unit", customer_id)
        changed = replace(current, tags=current.tags | {tags[detail]}, version=current.version + 1)
        env.store.save_customer("unit", changed, expected_version=current.version)
        return
    item: dict[str, Any] = {
        "event_id": f"ev{len(env.store.customers)}{now.timestamp()}{kind}{detail}",
        "customer_id": customer_id,
    }
    item["occurred_at"] = now.isoformat()
    if kind == "order":
        item.update(type="order", kind=detail, amount=100)
    else:
        item.update(type="message", text=TEXTS[detail])
    env.svc.events.apply(tenant, parse_event(item, 0))


def run_simulator(
    plan: Plan,
    rules: dict[str, Any],
    cohort: list[tuple[int, list[tuple[int, str, str]]]],
    tag_ids: dict[str, str],
    ids: dict[str, str],
) -> list[Row]:
    """The simulator's occurrences for the cohort, its customers named by the engine's ids (``ids``: name → id), so
    the holdout is drawn for the same customers; the rows name them back as the engine's rows do."""
    names = {cid: name for name, cid in ids.items()}
    sim = [
        SimCustomer(
            ids[f"c{n}"],
            START + timedelta(minutes=joined),
            [
                SimEvent(
                    START + timedelta(minutes=at),
                    kind,
                    kind=detail if kind == "order" else None,
                    text=TEXTS[detail] if kind == "reply" else None,
                    tag_id=tag_ids[detail] if kind == "tag" else None,
                )
                for at, kind, detail in stream
            ],
        )
        for n, (joined, stream) in enumerate(cohort)
    ]
    touch_rules_ = rules_from_text(_rules_text(rules))
    return [
        _row(replace(o, customer=names[o.customer]))
        for o in trace(plan, touch_rules_, ZONE, sim, DAYS, tenant_id="unit")
    ]


def _rules_text(rules: dict[str, Any]) -> str:
    from chalicelib.domain.touch_rules import rules_from_json, rules_text

    return rules_text(rules_from_json(rules))


def _row(o: SimOccurrence) -> Row:
    return (o.customer, o.step_id, o.occurrence, o.due_at.astimezone(UTC), o.state, o.reason, o.fired_at)


def _ordered(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r[0], r[6], r[1], r[2]))


def check_agreement(
    rules: dict[str, Any], doc: dict[str, Any], cohort: list[tuple[int, list[tuple[int, str, str]]]]
) -> list[Row]:
    plan, tag_ids, engine, ids = run_engine(rules, doc, cohort)
    simulated = run_simulator(plan, rules, cohort, tag_ids, ids)
    assert _ordered(simulated) == _ordered(engine), _explain(rules, doc, cohort, simulated, engine)
    return engine


def _explain(rules: Any, doc: Any, cohort: Any, simulated: list[Row], engine: list[Row]) -> str:
    def show(rows: list[Row]) -> str:
        return "\n".join(
            f"  {r[0]} {r[1]}#{r[2]} due {r[3]:%m-%d %H:%M} {r[4]} {r[5]} at {r[6]:%m-%d %H:%M}" for r in _ordered(rows)
        )

    return f"rules={rules}\nplan={doc}\ncohort={cohort}\nsimulator:\n{show(simulated)}\nengine:\n{show(engine)}"


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rules=touch_rules(), doc=plans(), cohort=cohorts())
def test_the_simulator_and_the_engine_decide_every_touch_alike(
    rules: dict[str, Any], doc: dict[str, Any], cohort: list[tuple[int, list[tuple[int, str, str]]]]
) -> None:
    for row in check_agreement(rules, doc, cohort):
        event(f"{row[4]}: {row[5] or '-'}")  # which fates the cases reached (--hypothesis-show-statistics)


# --- a case the engine gets wrong today (the simulator previews what it does) ------------------------------------

DEFAULT_RULES: dict[str, Any] = {
    "quiet_hours": {"start": "22:00", "end": "08:00"},
    "content_windows": {
        "interactive": {"start": "08:00", "end": "18:00"},
        "marketing": {"start": "18:00", "end": "22:00"},
    },
    "daily_caps": {"marketing": 1},
    "monthly_receive_limit": None,
}
DEFERRED_PAST_THE_LAST_STEP: dict[str, Any] = {
    "name": "差分计划",
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "s1", "content_type": "marketing", "message": {"text": "1"}, "day": 1, "at": "19:00"},
        {"id": "s2", "content_type": "marketing", "message": {"text": "2"}, "day": 1, "at": "20:00", "on_cap": "defer"},
        {"id": "s3", "content_type": "interactive", "message": {"text": "3"}, "day": 2, "at": "10:00"},
    ],
}


def test_the_simulator_previews_a_deferred_touch_lost_to_the_completion_as_the_engine_does() -> None:
    check_agreement(DEFAULT_RULES, DEFERRED_PAST_THE_LAST_STEP, [(0, [])])


def test_a_touch_deferred_by_the_cap_past_the_last_step_is_still_sent() -> None:
    """s2 (marketing, day 1 20:00) meets the daily cap s1 took at 19:00 and is deferred to day 2 18:00; s3 (the last
    step, day 2 10:00) is sent first and completes the enrollment; s2's deferred occurrence must still go out."""
    _, _, engine, _ = run_engine(DEFAULT_RULES, DEFERRED_PAST_THE_LAST_STEP, [(0, [])])
    deferred = [r for r in engine if r[1] == "s2" and r[2] == 1]
    assert [(r[4], r[5]) for r in deferred] == [("sent", None)]
    assert [(r[2], r[4]) for r in engine if r[1] == "s3"] == [(0, "sent")]  # sending s2 late queues no second s3


HELD_OUT: dict[str, Any] = {
    "name": "差分计划",
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "s1", "content_type": "interactive", "message": {"text": "1"}, "day": 1, "at": "10:00"},
        {"id": "s2", "content_type": "marketing", "message": {"text": "2"}, "day": 1, "at": "19:00"},
    ],
    "exit": [{"type": "order", "kind": "trial"}],
    "holdout_percent": 50,
}


def test_the_simulator_holds_out_the_customers_the_engine_holds_out() -> None:
    """Three customers, one buying a trial before day 1: the engine and the preview agree on every touch, held-out
    ones included (SeqIds and the world's ids make the arms fixed: both are present)."""
    cohort = [(0, []), (5, []), (10, [(600, "order", "trial")])]
    rows = check_agreement(DEFAULT_RULES, HELD_OUT, cohort)
    held = {r[0] for r in rows if r[5] == "holdout"}
    assert held and held != {"c0", "c1", "c2"}  # both arms
    assert all(r[4] == "skipped" for r in rows if r[0] in held)
