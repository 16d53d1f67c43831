"""Plan storage (SOP plans and their versions); see docs/data-model.md, "Plans".

A plan is a head item in the tenant partition (``T#<tid>`` / ``PLAN#<plan_id>``: current version, status, rev and
the current content, so one GetItem reads the plan and one Query lists them) plus one item per version in the plan's
own partition (``T#<tid>#PL#<plan_id>`` / ``V#<version:06d>``). Every change replaces the head on the condition
``rev = :expected``; a version item is only ever created, or rewritten while it is a never-published draft.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import PlanItem, PlanNameItem, PlanVersionItem, SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.plan_documents import plan_from_json
from chalicelib.domain.plan_names import name_key, name_taken
from chalicelib.domain.plans import Plan, PlanStatus, plan_to_json
from chalicelib.errors import ConflictError
from chalicelib.ports import Page


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def head_to_item(tenant_id: str, plan: Plan) -> PlanItem:
    return PlanItem(
        pk=k.tenant_pk(tenant_id),
        sk=k.plan_sk(plan.plan_id),
        version=plan.version,
        status=plan.status.value,
        rev=plan.rev,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        published_at=plan.published_at or None,
        doc=_dump(plan_to_json(plan)),
    )


def version_to_item(tenant_id: str, plan: Plan) -> PlanVersionItem:
    return PlanVersionItem(
        pk=k.plan_pk(tenant_id, plan.plan_id),
        sk=k.plan_version_sk(plan.version),
        version=plan.version,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        published_at=plan.published_at or None,
        doc=_dump(plan_to_json(plan)),
    )


def name_claim(tenant_id: str, name: str, plan_id: str) -> PlanNameItem:
    return PlanNameItem(pk=k.tenant_pk(tenant_id), sk=k.plan_name_sk(name_key(name)), plan_id=plan_id)


def _plan(item: Any, head: PlanItem, plan_id: str) -> Plan:
    """A version (or the head itself) as a Plan carrying the plan-wide status, rev and current version."""
    return replace(
        plan_from_json(json.loads(item.doc)),
        plan_id=plan_id,
        version=int(item.version),
        status=PlanStatus(head.status),
        rev=int(head.rev),
        created_at=item.created_at or "",
        updated_at=item.updated_at or "",
        published_at=item.published_at or "",
        current_version=int(head.version),
    )


def head_from_raw(raw: dict[str, Any]) -> Plan:
    head = PlanItem.from_raw_data(raw)
    return _plan(head, head, head.sk.removeprefix(k.PLAN_PREFIX))


class PlanRepository(DynamoBase):
    def create_plan(self, tenant_id: str, plan: Plan) -> None:
        try:
            with self.transaction(f"plan {plan.plan_id} already exists") as tx:
                tx.save(head_to_item(tenant_id, plan), condition=SiyuItem.pk.does_not_exist())
                tx.save(version_to_item(tenant_id, plan), condition=SiyuItem.pk.does_not_exist())
                tx.save(name_claim(tenant_id, plan.name, plan.plan_id), condition=SiyuItem.pk.does_not_exist())
        except ConflictError:
            self._name_free(tenant_id, plan)
            raise

    def plan_name_owner(self, tenant_id: str, name: str) -> str | None:
        claim = self.get(PlanNameItem, k.tenant_pk(tenant_id), k.plan_name_sk(name_key(name)), consistent=True)
        return claim.plan_id if claim else None

    def _name_free(self, tenant_id: str, plan: Plan) -> None:
        """After a lost write: if the reason was the name, say so (the write itself was the race-free check)."""
        holder = self.plan_name_owner(tenant_id, plan.name)
        if holder is not None and holder != plan.plan_id:
            raise name_taken(plan.name, holder)

    def get_plan(self, tenant_id: str, plan_id: str, version: int | None = None) -> Plan | None:
        head_key = (k.tenant_pk(tenant_id), k.plan_sk(plan_id))
        if version is None:
            head = self.get(PlanItem, *head_key)
            return _plan(head, head, plan_id) if head else None
        version_key = (k.plan_pk(tenant_id, plan_id), k.plan_version_sk(version))
        found = self.batch_get([head_key, version_key])  # one round trip for the status and the content
        if head_key not in found or version_key not in found:
            return None
        head = PlanItem.from_raw_data(found[head_key])
        return _plan(PlanVersionItem.from_raw_data(found[version_key]), head, plan_id)

    def list_plans(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page:
        """Plans by id. A status filter reads what it skips; each round asks only for the items still missing, so
        the cursor always sits right after the last plan returned (a short page says so with its cursor)."""
        raws, nxt = self.query_page(
            PlanItem,
            k.tenant_pk(tenant_id),
            PlanItem.sk.startswith(k.PLAN_PREFIX),
            cursor=cursor,
            limit=limit,
            filter_condition=(PlanItem.status == status) if status is not None else None,
            filtered_round=None,  # heads carry their content: read no more than the page still needs
        )
        return Page([head_from_raw(r) for r in raws], nxt)

    def list_plan_versions(self, tenant_id: str, plan_id: str) -> list[Plan]:
        head = self.get(PlanItem, k.tenant_pk(tenant_id), k.plan_sk(plan_id))
        if head is None:
            return []
        items, _ = self.query(
            PlanVersionItem, k.plan_pk(tenant_id, plan_id), PlanVersionItem.sk.startswith(k.PLAN_VERSION_PREFIX)
        )
        return [_plan(item, head, plan_id) for item in items]

    def save_plan(
        self, tenant_id: str, plan: Plan, *, expected_rev: int, write_version: bool, renamed_from: str | None = None
    ) -> None:
        head = head_to_item(tenant_id, plan)
        unchanged = PlanItem.rev == expected_rev
        rename = renamed_from is not None and name_key(renamed_from) != name_key(plan.name)
        try:
            with translate(f"plan {plan.plan_id} changed concurrently; reload and retry"):
                if not write_version and not rename:
                    head.save(condition=unchanged)
                    return
                with self.transaction(f"plan {plan.plan_id} changed concurrently; reload and retry") as tx:
                    tx.save(head, condition=unchanged)
                    if write_version:
                        tx.save(
                            version_to_item(tenant_id, plan),
                            condition=SiyuItem.pk.does_not_exist() | PlanVersionItem.published_at.does_not_exist(),
                        )
                    if rename and renamed_from is not None:
                        old = name_claim(tenant_id, renamed_from, plan.plan_id)
                        tx.delete(old, condition=SiyuItem.pk.does_not_exist() | (PlanNameItem.plan_id == plan.plan_id))
                        tx.save(name_claim(tenant_id, plan.name, plan.plan_id), condition=SiyuItem.pk.does_not_exist())
        except ConflictError:
            if rename:
                self._name_free(tenant_id, plan)
            raise
