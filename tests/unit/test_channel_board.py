"""The console's channel list (services/channel_board.py): today's adds and the CAC over the dashboard's default
range, per channel, from the counters (never a scan)."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.conftest import Env, make_channel


def test_each_channel_shows_todays_adds_and_its_cac_over_the_last_7_days(env: Env) -> None:
    douyin = make_channel(env)
    xhs = make_channel(env, name="小红书笔记", source="xiaohongshu", tags=[])
    env.scan(douyin.state, external_userid="wmA")
    env.clock.advance(days=-1)
    env.scan(douyin.state, external_userid="wmB")  # yesterday: in the CAC's range, not in today's adds
    env.clock.advance(days=1)
    env.scan(douyin.state, external_userid="wmC")
    today = env.clock.now().astimezone(env.tenant.zone).date()
    env.svc.metrics.set_spend(env.tenant, douyin.channel_id, today.isoformat(), 90.0)
    env.svc.metrics.set_spend(env.tenant, douyin.channel_id, (today - timedelta(days=6)).isoformat(), 30.0)
    env.svc.metrics.set_spend(env.tenant, douyin.channel_id, (today - timedelta(days=7)).isoformat(), 999.0)
    board = env.svc.metrics.channel_board(env.tenant, kind="standard", cursor=None, limit=50)
    rows = {r.channel.channel_id: r for r in board.rows}
    assert (board.today, board.date_from) == (today.isoformat(), (today - timedelta(days=6)).isoformat())
    d = rows[douyin.channel_id]
    assert (d.adds_today, d.new_today, d.new, d.spend_fen, d.cac_fen) == (2, 2, 3, 12000, 4000.0)
    x = rows[xhs.channel_id]
    assert (x.adds_today, x.new, x.spend_fen, x.cac_fen) == (0, 0, 0, None)


def test_the_board_pages_like_the_channel_list(env: Env) -> None:
    for n in range(3):
        make_channel(env, name=f"渠道{n}", tags=[])
    first = env.svc.metrics.channel_board(env.tenant, kind="standard", cursor=None, limit=2)
    assert len(first.rows) == 2 and first.next_cursor
    rest = env.svc.metrics.channel_board(env.tenant, kind="standard", cursor=first.next_cursor, limit=2)
    assert len(rest.rows) == 1 and not rest.next_cursor
    assert env.svc.metrics.channel_board(env.tenant, kind="referral", cursor=None, limit=2).rows == []
