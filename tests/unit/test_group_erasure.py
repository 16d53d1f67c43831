"""A customer's erasure leaves their group membership anonymous: no external_userid, no customer link, no index
entry leading back to them, in every group they were in; the history keeps its shape (joins and leaves still count),
a repeat changes nothing, and a later sync never writes their id back."""

from __future__ import annotations

from chalicelib.domain.contact_events import event_from_fields
from chalicelib.domain.groups import GroupSetup
from chalicelib.services.groups.members import member_key
from chalicelib.services.identities import credentials
from tests.unit.conftest import CORP
from tests.unit.groups_g2 import make_group_env

EXT, OTHER = "wmErase0000000000000000000000001", "wmKeep00000000000000000000000002"


def test_erasure_makes_the_customers_group_records_anonymous() -> None:
    env = make_group_env(world_groups=True)  # WeCom's groups: the world's
    added = env.world.event(env.tenant.corp_id, "add_external_contact", now=env.clock.epoch(), userid="zhang",
                            external_userid=EXT, State="")  # fmt: skip
    customer_id = env.svc.intake.handle(env.tenant, event_from_fields(added)).customer_id
    chats = []
    for n in (1, 2):
        created = env.world.group_change(CORP, "create", owner="zhang", name=f"XX教育·考研数学·3期·0{n}")
        env.deliver(created)
        chat = created["ChatId"]
        chats.append(chat)
        config_id = env.svc.wecom.add_join_way(
            credentials(env.tenant), chat_ids=[chat], state="ch_poster", room_base_name="XX", room_base_id=n
        )
        for person in (EXT, OTHER):
            for fields in env.world.group_join(CORP, config_id=config_id, external_userid=person):
                env.deliver(fields)
    env.deliver(env.world.group_leave(CORP, chats[1], external_userid=EXT))
    key = member_key(env.tenant, EXT)
    assert env.store.member_chats("unit", key) == sorted(chats)
    member = env.member(EXT, chats[0])
    assert member is not None and member.customer_id == customer_id
    marked = GroupSetup(type="study", kols=(EXT, OTHER))  # ops marked both parents as KOLs of the first group
    assert env.store.save_group_setup(
        "unit", chats[0], marked, expected_rev=env.store.get_group("unit", chats[0]).setup.rev
    )

    result = env.svc.customers.erase(env.tenant, customer_id)
    assert result["erased"]

    for chat in chats:
        record = env.member(EXT, chat)  # still found by its keyed digest, with nothing naming the person
        assert record is not None and record.erased and record.userid == "" and record.customer_id == ""
        history = env.store.member_changes("unit", chat, key)
        assert history and all(c.userid == "" and c.customer_id == "" for c in history)
        keep = env.member(OTHER, chat)
        assert keep is not None and keep.userid == OTHER  # the bystander is whole
    assert [c.kind for c in env.store.member_changes("unit", chats[1], key)] == ["join", "leave"]
    assert env.store.member_chats("unit", key) == []
    assert env.store.get_group("unit", chats[0]).setup.kols == (OTHER,)  # off the KOLs, the bystander stays
    assert env.svc.group_events.book.erase(env.tenant, (EXT,)) == 0  # a repeat finds nothing left to do

    env.clock.advance(days=1)
    env.svc.group_sync.tick(env.tenant, budget_seconds=60)  # WeCom still lists them in the first group
    record = env.member(EXT, chats[0])
    assert record is not None and record.in_group and record.userid == "" and record.erased
    dump = repr(vars(env.store)["_group_member_data"])
    assert EXT not in dump and customer_id not in dump
