"""The pure rules of alerts (domain/alerts.py): quiet hours move an alert to their end, retries back off, windows
and cards stay within WeCom's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.alerts import (
    DESCRIPTION_MAX_BYTES,
    FAILED,
    HOT,
    LOST,
    OVERDUE,
    PENDING,
    TITLE_MAX_BYTES,
    Alert,
    alert_id,
    card_for,
    clip_bytes,
    deliver_at,
    failed_try,
    next_window,
    rate_windows,
    retry_delay,
)
from chalicelib.domain.plans import Window

SH = ZoneInfo("Asia/Shanghai")
QUIET = Window("22:00", "08:00")


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SH)


def alert(kind: str = HOT, **kw: object) -> Alert:
    base: dict[str, object] = dict(
        alert_id="al_1", kind=kind, userid="zhang", dedupe_key="hot:c1:r1", due_at=at(10).isoformat(),
        created_at=at(10, 5).isoformat(), customer_id="c1",
    )  # fmt: skip
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_quiet_hours_move_an_alert_to_their_end_and_daytime_ones_stay() -> None:
    assert deliver_at(at(10), QUIET, SH) == at(10)
    assert deliver_at(at(22), QUIET, SH) == at(8, day=2)
    assert deliver_at(at(3, 30), QUIET, SH) == at(8)
    assert deliver_at(at(7, 59), QUIET, SH) == at(8)
    assert deliver_at(at(8), QUIET, SH) == at(8)
    assert deliver_at(at(23), None, SH) == at(23)  # the tenant turned quiet hours off


def test_ids_are_per_tenant_and_dedupe_key() -> None:
    assert alert_id("acme", "hot:c1:r1") == alert_id("acme", "hot:c1:r1")
    assert len({alert_id("acme", "hot:c1:r1"), alert_id("other", "hot:c1:r1"), alert_id("acme", "hot:c1:r2")}) == 3


def test_failed_tries_back_off_then_give_up() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4, 10)] == [timedelta(minutes=m) for m in (5, 10, 20, 40, 120)]
    now = at(10).astimezone(UTC)
    once = failed_try(alert(), now=now, zone=SH, code="wecom_busy", max_attempts=3)
    assert (once.status, once.attempts, once.due_at, once.reason) == (PENDING, 1, at(10, 5).isoformat(), "wecom_busy")
    last = failed_try(alert(attempts=2), now=now, zone=SH, code="wecom_busy", max_attempts=3)
    assert (last.status, last.attempts) == (FAILED, 3)


def test_rate_windows_are_calendar_minutes_and_hours_in_utc() -> None:
    now = datetime(2026, 12, 1, 2, 5, 59, tzinfo=UTC)
    assert rate_windows(now) == ("2026-12-01T02:05", "2026-12-01T02")
    assert next_window(now, "minute") == datetime(2026, 12, 1, 2, 6, tzinfo=UTC)
    assert next_window(now, "hour") == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def test_cards_link_to_the_page_that_acts_and_fit_wecoms_limits() -> None:
    hot = card_for(alert(), name="李妈妈", when="12月1日 10:05", console_url="https://c.cn/", tenant_id="acme")
    assert hot.url == "https://c.cn/console/acme/customers/c1" and hot.btntxt == "去跟进" and "李妈妈" in hot.title
    lost = card_for(alert(LOST), name="", when="x", console_url="https://c.cn", tenant_id="acme")
    assert lost.title == "客户流失：一位客户" and lost.url.endswith("/customers/c1")
    mine = card_for(alert(OVERDUE, customer_id=None, task_id="t1"), name="", when="x", console_url="https://c.cn",
                    tenant_id="acme")  # fmt: skip
    theirs = card_for(alert(OVERDUE, customer_id=None, task_id="t1"), name="", when="x", console_url="https://c.cn",
                      tenant_id="acme", lead="张老师")  # fmt: skip
    assert mine.url == theirs.url == "https://c.cn/console/acme/my"
    assert "已通知主管" in mine.description and "张老师" in theirs.description
    long = card_for(alert(), name="名" * 100, when="x", console_url="https://c.cn", tenant_id="acme")
    assert len(long.title.encode()) <= TITLE_MAX_BYTES and len(long.description.encode()) <= DESCRIPTION_MAX_BYTES


def test_clipping_never_cuts_a_character() -> None:
    assert clip_bytes("热线索", 7) == "热线" and clip_bytes("abc", 7) == "abc"
