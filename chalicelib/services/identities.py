"""Who a new external contact is: their WeCom profile, and the customer we already know under their unionid or phone.

撞单 (one person reaching two staff, or reaching us again under a new external_userid) is caught through aliases:
keyed HMACs of the unionid and the phone, never the values, each claimed by one customer with a conditional put.
WeCom being slow or down never fails intake: the customer stays unsynced and the next edit event syncs them.
"""

from __future__ import annotations

from chalicelib.domain.contact_events import ContactEvent
from chalicelib.domain.customers import Customer, ProfileFacts, mask_phone, normalize_phone
from chalicelib.domain.facts import Alias
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, SiyuError
from chalicelib.observability import logger
from chalicelib.ports import ExternalProfile, IntakeRepository, WeComCredentials, WeComPort


def credentials(tenant: Tenant) -> WeComCredentials:
    return WeComCredentials(tenant_id=tenant.tenant_id, corp_id=tenant.corp_id, secret=tenant.wecom_secret)


class Identities:
    def __init__(self, repo: IntakeRepository, wecom: WeComPort) -> None:
        self.repo = repo
        self.wecom = wecom

    def profile(
        self, tenant: Tenant, ev: ContactEvent, wecom: WeComPort | None = None
    ) -> tuple[ProfileFacts | None, ExternalProfile | None]:
        """Fetch the WeCom profile (through ``wecom`` if given: a callback's budgeted client); intake never fails
        because WeCom is slow or down: the profile stays unsynced, and the caller queues its repair."""
        try:
            raw = (wecom or self.wecom).get_external_contact(credentials(tenant), ev.external_userid)
        except SiyuError as exc:
            logger.warning(
                "externalcontact/get failed; continuing unsynced", extra={"code": exc.code, "tenant": tenant.tenant_id}
            )
            return None, None
        return self.facts(raw, ev.userid), raw

    @staticmethod
    def facts(raw: ExternalProfile, userid: str) -> ProfileFacts:
        """What Siyu keeps of a WeCom profile, as seen by staff member ``userid`` (their tags, their phone first)."""
        phone = phone_of(raw, userid)
        return ProfileFacts(
            name=raw.name,
            gender=raw.gender,
            contact_type=raw.type,
            corp_name=raw.corp_name,
            has_unionid=bool(raw.unionid),
            phone_masked=mask_phone(phone) if phone else "",
            synced=True,
            wecom_tag_ids=frozenset(t for f in raw.follow_users if f.userid == userid for t in f.tag_ids),
        )

    def match(self, tenant: Tenant, raw: ExternalProfile | None, ev: ContactEvent) -> tuple[Customer, bool, str] | None:
        """撞单: a new external contact whose unionid or phone we already know joins that customer."""
        if raw is None:
            return None
        candidates = []
        if raw.unionid:
            candidates.append(("unionid", "union", tenant.hmac_hex("union:" + raw.unionid)))
        phone = phone_of(raw, ev.userid)
        if phone:
            candidates.append(("phone", "phone", tenant.hmac_hex("phone:" + phone)))
        for by, kind, digest in candidates:
            alias = self.repo.find_alias(tenant.tenant_id, kind, digest)
            if alias is None or not alias.customer_id:
                continue
            existing, fact_exists = self.repo.load_customer(
                tenant.tenant_id, alias.customer_id, ev.create_time, ev.digest()
            )
            if existing is not None:
                return existing, fact_exists, by
        return None

    def claim(self, tenant: Tenant, customer: Customer, raw: ExternalProfile | None, ev: ContactEvent) -> Customer:
        """Point the unionid/phone aliases at a new customer so later contacts of the same person merge."""
        return self.claim_for(tenant, customer, raw, ev.userid)

    def claim_for(self, tenant: Tenant, customer: Customer, raw: ExternalProfile | None, userid: str) -> Customer:
        """``claim`` for the profile as staff member ``userid`` sees it (a repaired profile sync has no event)."""
        if raw is None:
            return customer
        claims = []
        if raw.unionid:
            claims.append(("union", tenant.hmac_hex("union:" + raw.unionid)))
        phone = phone_of(raw, userid)
        if phone:
            claims.append(("phone", tenant.hmac_hex("phone:" + phone)))
        for kind, digest in claims:
            try:
                self.repo.put_alias(tenant.tenant_id, Alias(kind, digest, customer.customer_id))
                customer = customer.with_alias(kind, digest)
            except ConflictError:
                logger.info("identity already claimed by another customer", extra={"kind": kind})
        return customer


def phone_of(raw: ExternalProfile | None, userid: str) -> str | None:
    """The first valid phone the adding staff noted (remark_mobiles), else any staff's."""
    if raw is None:
        return None
    ordered = sorted(raw.follow_users, key=lambda f: f.userid != userid)
    for f in ordered:
        for phone in f.remark_mobiles:
            normalized = normalize_phone(phone)
            if normalized:
                return normalized
    return None
