"""An in-memory SecretStore: versions as SSM keeps them (1, 2, …), every read counted."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeSecrets:
    versions: dict[str, list[str]] = field(default_factory=dict)
    reads: list[tuple[str, int | None]] = field(default_factory=list)

    def put(self, name: str, value: str) -> int:
        self.versions.setdefault(name, []).append(value)
        return len(self.versions[name])

    def get(self, name: str, version: int | None = None) -> str | None:
        self.reads.append((name, version))
        history = self.versions.get(name, [])
        if not history:
            return None
        if version is None:
            return history[-1]
        return history[version - 1] if 1 <= version <= len(history) else None
