"""The console's customer reads: the filtered list with what its filter form offers, and one customer's page.

Over CustomerService (services/customers.py), with its staff scoping: a staff session lists only the customers it
owns, as the JSON API's staff token does. Opening one customer differs on purpose: the JSON API answers a staff
token 404 for another's customer, the console answers 403 (its refusal page says the customer is not theirs), and
answers a staff member the same 403 for an id that does not exist, so the refusal tells them nothing either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.channels import ORGANIC, Channel
from chalicelib.domain.customers import Customer
from chalicelib.domain.staff import Staff
from chalicelib.domain.tags import Taxonomy
from chalicelib.errors import ForbiddenError
from chalicelib.ports import CustomerFilter, Page

TIMELINE_PAGE = 50  # as the detail's first page
CHANNEL_CHOICES = 200  # channels offered in the filter form (standard codes; referral codes are per customer)


class Customers(Protocol):
    def find(
        self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int, only_owner: str | None = None
    ) -> Page: ...
    def detail(
        self, tenant_id: str, customer_id: str, *, only_owner: str | None = None, zone: ZoneInfo = ...
    ) -> dict[str, Any]: ...
    def timeline(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        zone: ZoneInfo,
        limit: int,
        cursor: str | None,
        before: Any,
        only_owner: str | None = None,
    ) -> dict[str, Any]: ...


class ViewRepo(Protocol):
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def taxonomy(self, tenant_id: str) -> Taxonomy: ...
    def list_channels(self, tenant_id: str, *, kind: str, cursor: str | None, limit: int) -> Page: ...
    def list_staff(self, tenant_id: str) -> list[Staff]: ...
    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None: ...


@dataclass(frozen=True)
class TagChoice:
    tag_id: str
    label: str  # "group / name"


@dataclass(frozen=True)
class FilterChoices:
    """What a customer filter form offers (the list's, a bulk enrollment's)."""

    tags: list[TagChoice]
    channels: list[tuple[str, str]]  # (channel id, name)
    staff: list[tuple[str, str]]  # (userid, name): the owners to filter by


@dataclass(frozen=True)
class CustomerList(FilterChoices):
    items: list[Customer] = field(default_factory=list)
    next_cursor: str | None = None


class CustomerViews:
    def __init__(self, customers: Customers, repo: ViewRepo) -> None:
        self.customers = customers
        self.repo = repo

    def browse(
        self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int, only_owner: str | None
    ) -> CustomerList:
        """A page of customers (the JSON API's listing and scoping) and the tags, channels and owners to filter by."""
        page = self.customers.find(tenant_id, flt, cursor=cursor, limit=limit, only_owner=only_owner)
        choices = self.choices(tenant_id)
        return CustomerList(choices.tags, choices.channels, choices.staff, page.items, page.next_cursor)

    def choices(self, tenant_id: str) -> FilterChoices:
        """The tags, standard channels and staff a customer filter can name."""
        channels = self.repo.list_channels(tenant_id, kind="standard", cursor=None, limit=CHANNEL_CHOICES)
        return FilterChoices(
            tags=tag_choices(self.repo.taxonomy(tenant_id)),
            channels=[(c.channel_id, c.name) for c in channels.items if isinstance(c, Channel)],
            staff=[(m.userid, m.name or m.userid) for m in self.repo.list_staff(tenant_id)],
        )

    def card(
        self, tenant_id: str, customer_id: str, *, staff_scope: str | None, zone: ZoneInfo, cursor: str | None = None
    ) -> dict[str, Any]:
        """One customer's page: the detail (profile, tags, timeline) and the tags that can be added; with
        ``cursor`` (the detail's ``timeline_next_cursor``), that later page of the timeline instead of the first.
        A staff member who does not own the customer (or names none) gets ForbiddenError."""
        if staff_scope is not None:
            customer = self.repo.get_customer(tenant_id, customer_id)
            if customer is None or customer.owner_userid != staff_scope:
                raise ForbiddenError("这位客户不在你的名下，无法查看。", code="not_your_customer")
        body = self.customers.detail(tenant_id, customer_id, only_owner=staff_scope, zone=zone)
        if cursor:
            page = self.customers.timeline(
                tenant_id,
                customer_id,
                zone=zone,
                limit=TIMELINE_PAGE,
                cursor=cursor,
                before=None,
                only_owner=staff_scope,
            )
            body["timeline"], body["timeline_next_cursor"] = page["items"], page["next_cursor"]
        have = set(body.get("tags") or ())
        every = tag_choices(self.repo.taxonomy(tenant_id))
        body["tag_choices"] = [c for c in every if c.tag_id not in have]
        body["tag_names"] = {c.tag_id: c.label for c in every}  # the timeline's tag changes, by name
        source = body.get("source_channel_id") or ""
        channel = self.repo.get_channel(tenant_id, source) if source and source != ORGANIC else None
        body["channel_name"] = channel.name if channel is not None else None
        return body


def tag_choices(taxonomy: Taxonomy) -> list[TagChoice]:
    """Every tag of the taxonomy, labelled with its group, in the taxonomy's order."""
    return [TagChoice(t.tag_id, f"{g.name} / {t.name}") for g in taxonomy.groups for t in g.tags]


def views_of(svc: Any) -> CustomerViews:
    """The console's customer reads over the wired services (stateless: building one per request is free)."""
    return CustomerViews(svc.customers, svc.store)
