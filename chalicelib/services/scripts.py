"""The script library (话术库, /t/{tenant}/scripts): what staff say at each stage, by scene (破冰, 需求挖掘, 异议处理,
促单), with content items to send along. The customer sidebar asks ``for_stage``; a plan step names one by
``script_id`` and its text joins the step's notes when the step fires (services/sop/content.py)."""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import Any, Protocol

from chalicelib.domain.instants import iso_of
from chalicelib.domain.library import SCENES, STAGES, Script, grouped, script_sort_key
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.ports import Clock, IdGenerator


class ScriptRepo(Protocol):
    def create_script(self, tenant_id: str, script: Script) -> None: ...
    def get_script(self, tenant_id: str, script_id: str) -> Script | None: ...
    def list_scripts(self, tenant_id: str) -> list[Script]: ...
    def save_script(self, tenant_id: str, script: Script, *, expected_rev: int) -> bool: ...
    def delete_script(self, tenant_id: str, script_id: str) -> bool: ...


class ContentCheck(Protocol):
    """The content library's existence check (ContentService.missing)."""

    def missing(self, tenant_id: str, content_ids: tuple[str, ...]) -> list[str]: ...


def _check(stage: str, scene: str) -> None:
    if stage not in STAGES:
        raise InvalidError(f"stage must be one of {', '.join(STAGES)}")
    if scene not in SCENES:
        raise InvalidError(f"scene must be one of {', '.join(SCENES)}")


class ScriptService:
    def __init__(self, repo: ScriptRepo, clock: Clock, ids: IdGenerator, content: ContentCheck | None = None) -> None:
        self.repo = repo
        self.clock = clock
        self.ids = ids
        self.content = content

    def _refs(self, tenant_id: str, content_ids: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(content_ids)) != len(content_ids):
            raise InvalidError("content_ids names an item twice")
        missing = self.content.missing(tenant_id, content_ids) if self.content and content_ids else []
        if missing:
            raise InvalidError(f"content_ids: content {', '.join(missing)} does not exist", code="content_not_found")
        return content_ids

    def create(self, tenant: Tenant, data: dict[str, Any]) -> Script:
        now = iso_of(self.clock.now(), tenant.zone)
        script = Script(
            script_id=self.ids.new_id("scr_"),
            stage=data["stage"],
            scene=data["scene"],
            title=data["title"],
            text=data["text"],
            content_ids=self._refs(tenant.tenant_id, tuple(data.get("content_ids") or ())),
            order=int(data.get("order", 0)),
            created_at=now,
            updated_at=now,
        )
        _check(script.stage, script.scene)
        self.repo.create_script(tenant.tenant_id, script)
        return replace(script, rev=1)

    def script(self, tenant_id: str, script_id: str) -> Script:
        found = self.repo.get_script(tenant_id, script_id)
        if found is None:
            raise NotFoundError(f"script {script_id} does not exist")
        return found

    def list(self, tenant_id: str, *, stage: str | None = None, scene: str | None = None) -> list[Script]:
        """The tenant's scripts in journey order (stage, then scene 破冰 → 促单, then their order)."""
        scripts = [
            s
            for s in self.repo.list_scripts(tenant_id)
            if (stage is None or s.stage == stage) and (scene is None or s.scene == scene)
        ]
        return sorted(scripts, key=script_sort_key)

    def grouped(self, tenant_id: str) -> builtins.list[tuple[str, str, builtins.list[Script]]]:
        """(stage, scene, scripts) groups: the script library page."""
        return grouped(self.list(tenant_id))

    def for_stage(self, tenant_id: str, stage: str, scene: str | None = None) -> builtins.list[Script]:
        """What the sidebar shows for a customer at ``stage`` (and ``scene``): that stage's scripts, scene by
        scene; an unknown stage has none."""
        if stage not in STAGES:
            return []
        return self.list(tenant_id, stage=stage, scene=scene)

    def update(self, tenant: Tenant, script_id: str, data: dict[str, Any]) -> Script:
        """Change the given fields if ``data["rev"]`` is still the script's rev (409 otherwise); the same change
        arriving twice answers the script as the first made it."""
        current = self.script(tenant.tenant_id, script_id)
        changes: dict[str, Any] = {n: data[n] for n in ("stage", "scene", "title", "text", "order") if n in data}
        if "content_ids" in data:
            changes["content_ids"] = self._refs(tenant.tenant_id, tuple(data["content_ids"]))
        rev = int(data["rev"])
        updated = replace(current, **changes, updated_at=iso_of(self.clock.now(), tenant.zone))
        _check(updated.stage, updated.scene)
        if current.rev == rev and self.repo.save_script(tenant.tenant_id, updated, expected_rev=rev):
            return replace(updated, rev=rev + 1)
        latest = self.script(tenant.tenant_id, script_id)
        if latest.rev == rev + 1 and replace(latest, updated_at="", rev=0) == replace(updated, updated_at="", rev=0):
            return latest  # this very change, made already (a retried PUT)
        raise ConflictError(
            f"script {script_id} is at rev {latest.rev}, not {rev}: reload and retry",
            code="stale_rev",
            details={"rev": latest.rev},
        )

    def delete(self, tenant_id: str, script_id: str) -> None:
        if not self.repo.delete_script(tenant_id, script_id):
            raise NotFoundError(f"script {script_id} does not exist")
