"""An in-memory BlobStore with the S3 adapter's key rules (ports.blobs.object_key), every write counted."""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.ports.blobs import Blob, object_key, tenant_prefix


@dataclass
class FakeBlobs:
    objects: dict[str, Blob] = field(default_factory=dict)
    puts: list[str] = field(default_factory=list)

    def put(self, tenant_id: str, key: str, data: bytes, content_type: str) -> None:
        name = object_key(tenant_id, key)
        self.objects[name] = Blob(bytes(data), content_type)
        self.puts.append(name)

    def get(self, tenant_id: str, key: str) -> Blob | None:
        return self.objects.get(object_key(tenant_id, key))

    def delete(self, tenant_id: str, key: str) -> None:
        self.objects.pop(object_key(tenant_id, key), None)

    def delete_prefix(self, tenant_id: str, prefix: str) -> int:
        start = tenant_prefix(tenant_id, prefix)
        gone = [name for name in self.objects if name.startswith(start)]
        for name in gone:
            del self.objects[name]
        return len(gone)
