"""Property: however WeCom delivers a group's callbacks — shuffled, repeated, some lost behind others — the group
ends as in-order delivery leaves it (and as WeCom has it: the re-read answers the truth), and no join or leave is
told twice."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FixedClock
from tests.fakes.wecom_groups_g2 import FakeGroupChats
from tests.unit.groups_g2 import CHAT, GroupEnv, make_group_env

PEOPLE = ("wmP0000000000000000000000000000A", "wmP0000000000000000000000000000B", "wmP0000000000000000000000000000C",
          "wmP0000000000000000000000000000D", "li")  # fmt: skip


def _history(ops: list[tuple[int, int]]) -> tuple[FakeGroupChats, list[dict[str, Any]]]:
    """WeCom's truth after ``ops`` (each: a person, and 1 for a pair joining together) and the callbacks it sent."""
    clock = FixedClock()
    chats = FakeGroupChats(now=lambda: int(clock.now().timestamp()))
    events = [chats.create(CHAT, owner="zhang", name="XX教育·考研数学·3期·01")]
    inside: set[str] = set()
    for who, pair in ops:
        clock.advance(minutes=1)
        people = [PEOPLE[who]] + ([PEOPLE[(who + 1) % len(PEOPLE)]] if pair else [])
        people = [p for p in people if (p in inside) == (PEOPLE[who] in inside)]
        if PEOPLE[who] in inside:
            events.append(chats.leave(CHAT, people, scene=pair))
            inside -= set(people)
        else:
            kind = 1 if PEOPLE[who] == "li" else 2
            events.append(chats.join(CHAT, people, scene=3, state=f"ch{who}", invitor="zhang", kind=kind))
            inside |= set(people)
    return chats, events


def _play(chats: FakeGroupChats, deliveries: list[dict[str, Any]], seconds: float) -> GroupEnv:
    env = make_group_env()
    env.seconds = seconds
    env.svc.group_events.source = chats
    for fields in deliveries:
        assert env.deliver(fields).outcome in ("applied", "duplicate", "refetched", "deferred")
    env.drain()  # what waited for the repair queue
    return env


def _view(env: GroupEnv) -> tuple[Any, ...]:
    s = env.state()
    state = (s.name, s.owner, s.notice, s.status, s.created_at, s.admins, s.member_count, s.member_version)
    page = env.store.list_members("unit", CHAT, cursor=None, limit=1000)
    members = {m.userid: (m.type, m.state, m.invitor, m.customer_id) for m in page.items if m.in_group}
    return state, members


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(st.tuples(st.integers(0, len(PEOPLE) - 1), st.integers(0, 1)), min_size=1, max_size=10),
    data=st.data(),
    seconds=st.sampled_from([3.0, 0.0]),
)
def test_shuffled_and_repeated_delivery_ends_as_in_order_delivery(ops: list[tuple[int, int]], data: Any,
                                                                  seconds: float) -> None:  # fmt: skip
    chats, events = _history(ops)
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=len(events)), label="repeats")
    shuffled = data.draw(st.permutations(events + repeats), label="delivery")
    in_order = _play(chats, events, seconds)
    anyhow = _play(chats, shuffled, seconds)
    assert _view(anyhow) == _view(in_order)
    truth = chats.groups[CHAT]
    state, members = _view(anyhow)
    assert set(members) == {m.userid for m in truth.members} and state[-1] == truth.member_version
    assert state[-2] == len(truth.members)
    for env in (in_order, anyhow):
        refs = [s.ref for s in env.heard]
        assert len(refs) == len(set(refs)), "a join or leave was told twice"
