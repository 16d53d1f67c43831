"""What an add does in WeCom once it is stored: the welcome message, the tags, the contact way's rotation, then the
plan. All of it within the callback's budget (services/budget.py), in that order, because the welcome is the one
that cannot wait: its code expires 20 s after the event. What fails or finds no time left is not lost:

- a welcome that could not be sent (WeCom busy past its retries, out of budget, its code spent) is recorded as
  ``welcome_missed`` — a timeline fact, a ``WelcomeMissed`` metric and a ``welcome`` task for the staff member to
  greet the customer by hand, with the channel's welcome text;
- the tag marking, the rotation and a profile sync that failed become repair items (services/repairs.py).

Nothing here logs a name, a phone number or message text.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Protocol

from chalicelib.domain.channels import Channel, at_cap, code_users
from chalicelib.domain.contact_events import ContactEvent
from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Fact
from chalicelib.domain.instants import iso_local, iso_of
from chalicelib.domain.repairs import CONTACT_WAY, MARK_TAG, PROFILE_SYNC, RepairItem
from chalicelib.domain.signals import ADDED, TAG, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, SiyuError
from chalicelib.observability import count, logger
from chalicelib.ports import (
    ChannelRepository,
    Clock,
    CustomerRepository,
    Enroller,
    IntakeSnapshot,
    Message,
    SignalPublisher,
    TaskSink,
    WeComPort,
    WelcomeOutcome,
)
from chalicelib.services.identities import credentials

WELCOME_MISSED = "welcome_missed"
# Outcomes after which the customer got no welcome and nobody else sends one: the owner greets them by hand.
# (already_delivered, other_app, no_code and no_message are not misses: the customer is greeted, or is not to be.)
MISSED = frozenset({WelcomeOutcome.FAILED, WelcomeOutcome.EXPIRED, WelcomeOutcome.MEDIA_EXPIRED})


class RepairSink(Protocol):
    def enqueue(self, item: RepairItem) -> bool: ...


class EffectsRepo(ChannelRepository, CustomerRepository, Protocol):
    """What the side effects write: a channel marked full, a customer's welcome_missed fact."""


class WelcomeLibrary(Protocol):
    """The content library as a welcome message needs it (services/library_send.ContentSender)."""

    def message(self, tenant_id: str, message: Message) -> Message | None: ...

    def refresh(self, tenant_id: str, message: Message) -> Message: ...


class AddEffects:
    """One delivery's side effects; ``wecom`` is the delivery's budgeted client."""

    def __init__(
        self,
        repo: EffectsRepo,
        wecom: WeComPort,
        clock: Clock,
        signals: SignalPublisher,
        enroller: Enroller | None,
        tasks: TaskSink | None,
        repairs: RepairSink | None,
        library: WelcomeLibrary | None = None,
    ) -> None:
        self.library = library  # content library items a welcome names, resolved as it goes out
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.signals = signals
        self.enroller = enroller
        self.tasks = tasks
        self.repairs = repairs

    def after_add(
        self,
        tenant: Tenant,
        ev: ContactEvent,
        customer: Customer,
        channel: Channel | None,
        snap: IntakeSnapshot,
        date: str,
        outcome: str,
        *,
        synced: bool,
    ) -> str:
        """Welcome first (20 s clock), then tags, then rotation, then signals and the plan; the welcome outcome."""
        welcome = self._welcome(tenant, ev, channel)
        if welcome in MISSED:
            self._welcome_missed(tenant, ev, customer, channel, welcome)
        if not synced:
            self.repair(PROFILE_SYNC, tenant, customer_id=customer.customer_id, ev=ev)
        wecom_tags = [t.wecom_id for t in (channel.tags if channel else ()) if t.wecom_id]
        if wecom_tags and outcome != "confirmed":
            try:
                self.wecom.mark_tag(
                    credentials(tenant),
                    userid=ev.userid,
                    external_userid=ev.external_userid,
                    add_tag=wecom_tags,
                    remove_tag=[],
                )
            except SiyuError as exc:
                logger.warning(
                    "mark_tag failed; local tags stand", extra={"code": exc.code, "tenant": tenant.tenant_id}
                )
                self.repair(MARK_TAG, tenant, ev=ev, add_tag=wecom_tags)
        if outcome != "confirmed":  # a relation that already existed adds nobody: no rotation, no signal
            if channel is not None:
                self._rotate(tenant, channel, ev.userid, snap, date)
            kind = "readd" if outcome == "readd" else "new"
            channel_id = channel.channel_id if channel is not None else None
            self.signals.publish(
                tenant,
                customer.customer_id,
                Signal(
                    ADDED,
                    self.clock.now(),
                    kind=kind,
                    channel_id=channel_id,
                    ref=ev.digest(),
                    staff=ev.userid,
                    customer=customer,
                ),
            )
            if channel is not None:
                self._enroll(tenant, channel, customer)
        return welcome

    def repair(self, kind: str, tenant: Tenant, *, ev: ContactEvent | None = None, **data: object) -> None:
        """Queue a repair of ``kind`` (ids only); without a queue, only the warning already logged remains."""
        if self.repairs is None:
            return
        if ev is not None:
            data = {"userid": ev.userid, "external_userid": ev.external_userid, **data}
        self.repairs.enqueue(RepairItem(kind, tenant.tenant_id, dict(data)))

    # --- the welcome ------------------------------------------------------------------------------------------

    def _welcome(self, tenant: Tenant, ev: ContactEvent, channel: Channel | None) -> str:
        if not ev.welcome_code:
            return WelcomeOutcome.NO_CODE
        if channel is None or channel.welcome.empty:
            return WelcomeOutcome.NO_MESSAGE
        creds, message = credentials(tenant), channel.welcome
        try:
            if self.library is not None and message.content_ids:
                resolved = self.library.message(tenant.tenant_id, message)
                if resolved is None:  # an item it names was deleted: the owner's task says so
                    return WelcomeOutcome.FAILED
                message = resolved
            outcome = self.wecom.send_welcome_msg(creds, welcome_code=ev.welcome_code, message=message)
            if outcome == WelcomeOutcome.MEDIA_EXPIRED and self.library is not None:  # 40007 spent no code
                fresh = self.library.refresh(tenant.tenant_id, message)
                outcome = self.wecom.send_welcome_msg(creds, welcome_code=ev.welcome_code, message=fresh)
            return outcome
        except SiyuError as exc:  # unreachable, timed out, or no time left in the budget
            logger.warning("welcome message failed", extra={"code": exc.code, "tenant": tenant.tenant_id})
            return WelcomeOutcome.FAILED

    def _welcome_missed(
        self, tenant: Tenant, ev: ContactEvent, customer: Customer, channel: Channel | None, why: str
    ) -> None:
        """Never silently lost: a fact on the customer's timeline, a metric, and a task for the owner (once per
        event: the task's id derives from the event's digest, and a redelivered event is a duplicate anyway)."""
        count("WelcomeMissed")
        tid = tenant.tenant_id
        digest = ev.digest()
        logger.warning("welcome missed; owner task created", extra={"tenant": tid, "customer_id": customer.customer_id})
        text = channel.welcome.text if channel is not None else ""
        if self.tasks is not None:
            try:
                self.tasks.follow_up(
                    tid,
                    customer_id=customer.customer_id,
                    owner_userid=ev.userid,
                    reason=WELCOME_MISSED,
                    text=text,
                    due=self.clock.now(),
                    dedupe_key=f"{WELCOME_MISSED}:{digest}",
                    kind="welcome",
                )
            except SiyuError as exc:
                count("WelcomeMissedTaskFailed")
                logger.error("welcome task could not be created", extra={"tenant": tid, "code": exc.code})
        fact = Fact(
            tenant_id=tid,
            customer_id=customer.customer_id,
            create_time=ev.create_time,
            digest=hashlib.sha256(f"{WELCOME_MISSED}:{digest}".encode()).hexdigest()[:24],
            type=WELCOME_MISSED,
            at=iso_local(ev.create_time, tenant.zone),
            userid=ev.userid,
            channel_id=channel.channel_id if channel is not None else "",
            detail={"outcome": why},
        )
        current: Customer | None = customer
        for _ in range(2):  # the profile's version guards the write; a concurrent change means one re-read
            if current is None:
                return
            now = iso_of(self.clock.now(), tenant.zone)
            try:
                self.repo.save_customer(
                    tid,
                    replace(current, version=current.version + 1, updated_at=now),
                    expected_version=current.version,
                    fact=fact,
                )
                return
            except ConflictError:
                current = self.repo.get_customer(tid, customer.customer_id)
        logger.warning("welcome_missed fact not recorded (the task stands)", extra={"tenant": tid})

    # --- rotation and the plan --------------------------------------------------------------------------------

    def _rotate(self, tenant: Tenant, channel: Channel, userid: str, snap: IntakeSnapshot, date: str) -> None:
        """Keep the code pointing at who should get the next customer: round-robin order, caps, backup."""
        ch_adds = snap.counters.get(f"c#{channel.channel_id}", 0) + 1
        staff_adds = snap.counters.get("adds", 0) + 1
        staff_cap = snap.staff.daily_cap if snap.staff else None
        full = channel.full_today(date)
        users: list[str] = []
        try:
            if userid not in full and at_cap(channel, userid, ch_adds, staff_adds, staff_cap):
                self.repo.mark_channel_full(tenant.tenant_id, channel.channel_id, userid, date)
                full = full | {userid}
            users = code_users(channel, userid, date, full)
            if channel.config_id and users != [userid]:
                self.wecom.update_contact_way(
                    credentials(tenant),
                    config_id=channel.config_id,
                    users=users,
                    state=channel.state,
                    remark=channel.name[:30],
                )
        except SiyuError as exc:
            logger.warning(
                "channel rotation failed",
                extra={"code": exc.code, "tenant": tenant.tenant_id, "channel_id": channel.channel_id},
            )
            if users and channel.config_id:  # the WeCom call failed (not the counters' write): make it later
                self.repair(
                    CONTACT_WAY, tenant, channel_id=channel.channel_id, config_id=channel.config_id, users=users
                )

    def _enroll(self, tenant: Tenant, channel: Channel, customer: Customer) -> None:
        """The channel's plan (新客培育): enrollment follows the add; its failure never fails the callback."""
        now = self.clock.now()
        if channel.tags:
            self.signals.publish(
                tenant, customer.customer_id, Signal(TAG, now, tag_ids=tuple(t.tag_id for t in channel.tags))
            )
        try:
            if channel.plan_id and self.enroller is not None:
                self.enroller.enroll(tenant, customer.customer_id, channel.plan_id, source="channel")
        except SiyuError as exc:
            logger.warning(
                "enrollment from channel failed",
                extra={"code": exc.code, "tenant": tenant.tenant_id, "plan_id": channel.plan_id},
            )
