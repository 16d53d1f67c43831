"""The QR images behind the world's ``qr_code`` URLs: real PNGs (segno), so a poster can be built from them.

WeCom answers ``add_contact_way`` (and ``get_join_way``) with a ``qr_code`` URL to an image of the code. The world
serves ``{public_url}/qr/{config_id}`` and ``{public_url}/qr/join/{config_id}`` for the ways it holds, and nothing
for a way that was deleted, as WeCom's image stops working with its code.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from devstack.wecom_world.state import WorldState

QR_PREFIX = "/qr/"
JOIN_PREFIX = "/qr/join/"


def qr_url(world: WorldState, config_id: str, *, join: bool = False) -> str:
    return f"{world.public_url}{JOIN_PREFIX if join else QR_PREFIX}{config_id}"


def qr_png(world: WorldState, url_or_path: str) -> bytes | None:
    """The PNG a ``qr_code`` URL (or its path) shows, or None when no live way has it."""
    path = urlsplit(url_or_path).path
    join = path.startswith(JOIN_PREFIX)
    config_id = path.removeprefix(JOIN_PREFIX if join else QR_PREFIX)
    if not path.startswith(QR_PREFIX) or not config_id or "/" in config_id:
        return None
    with world.lock:
        corp = next((c for c in world.corps.values() if config_id in (c.join_ways if join else c.ways)), None)
        if corp is None:
            return None
    import segno  # only the sandbox draws codes; the Lambda never imports this module

    kind = "join" if join else "contact"
    out = io.BytesIO()
    segno.make(f"siyu-sandbox:{kind}:{corp.corp_id}:{config_id}", error="m").save(out, kind="png", scale=8, border=4)
    return out.getvalue()
