"""The channel poster's inputs and output: the sandbox serves a real QR PNG at each contact way's ``qr_code`` URL
(in process and over HTTP), the client downloads it, and the poster puts it on a card, with the channel's name when
a CJK font is on the machine."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.ports import WeComCredentials
from chalicelib.services import posters
from devstack.sandbox import SandboxServer
from devstack.wecom_world import WeComWorld, WorldTransport

CREDS = WeComCredentials(tenant_id="t1", corp_id="wwpostertest0001", secret="s")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def world() -> WeComWorld:
    return WeComWorld(clock=lambda: 1_700_000_000.0)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer().start()
    yield server
    server.stop()


def test_a_contact_ways_qr_code_url_shows_a_png_until_the_way_is_deleted(world: WeComWorld) -> None:
    client = WeComClient(WorldTransport(world), sleep=lambda s: None)
    way = client.add_contact_way(CREDS, users=["zhangsan"], state="ch_1", remark="春季")
    image = client.qr_image(way.qr_code)
    assert image.startswith(PNG)
    with Image.open(io.BytesIO(image)) as decoded:
        assert decoded.width == decoded.height >= 21 * 8  # a QR symbol is square: ≥ 21 modules, 8 px each
    assert client.qr_image(client.add_contact_way(CREDS, users=["lisi"], state="ch_2").qr_code) != image
    client.del_contact_way(CREDS, config_id=way.config_id)
    with pytest.raises(errors.WeComTransportError):
        client.qr_image(way.qr_code)
    with pytest.raises(errors.NotFoundError):
        client.qr_image("")


def test_the_sandbox_serves_the_qr_png_over_http_at_its_own_address(sandbox: SandboxServer) -> None:
    client = WeComClient(Urllib3Transport(sandbox.base_url), sleep=lambda s: None)
    way = client.add_contact_way(CREDS, users=["zhangsan"], state="ch_1")
    assert way.qr_code == f"{sandbox.base_url}/qr/{way.config_id}"
    assert client.qr_image(way.qr_code) == sandbox.world.qr_png(way.qr_code)
    with pytest.raises(errors.WeComTransportError, match="404"):
        client.qr_image(f"{sandbox.base_url}/qr/nosuchway")
    with pytest.raises(errors.WeComTransportError, match="not http"):
        client.qr_image("file:///etc/passwd")


def test_urls_no_live_way_has_show_nothing(world: WeComWorld) -> None:
    client = WeComClient(WorldTransport(world), sleep=lambda s: None)
    way = client.add_contact_way(CREDS, users=["zhangsan"], state="ch_1")
    assert world.qr_png(f"{world.public_url}/qr/join/{way.config_id}") is None  # a contact way is not a join way
    assert world.qr_png("/qr/") is None and world.qr_png(f"/elsewhere/{way.config_id}") is None
    assert world.qr_png(f"/qr/{way.config_id}/x") is None


def _qr() -> bytes:
    import segno

    out = io.BytesIO()
    segno.make("siyu-test").save(out, kind="png", scale=8)
    return out.getvalue()


def test_the_poster_is_a_card_with_the_code_and_the_name_when_a_font_is_found() -> None:
    font = posters.cjk_font()
    plain = posters.render_poster(_qr(), "抖音春季投放", font_path=None)
    with Image.open(io.BytesIO(plain)) as card:
        assert card.size == (posters.WIDTH, posters.HEIGHT)
        centre = card.getpixel((posters.WIDTH // 2, posters.HEIGHT // 2 + 40))
        band = card.getpixel((10, 10))
    assert band == posters.BAND and centre in ((0, 0, 0), (255, 255, 255))
    if font is None:
        pytest.skip("no CJK font on this machine: the poster has no text (the fallback checked above)")
    titled = posters.render_poster(_qr(), "抖音春季投放", font_path=font)
    other = posters.render_poster(_qr(), "小红书", font_path=font)
    assert len({titled, other, plain}) == 3  # the name is drawn


def test_an_unreadable_qr_image_is_an_upstream_error() -> None:
    with pytest.raises(errors.UpstreamError):
        posters.render_poster(b"<html>not an image</html>", "x", font_path=None)


def test_the_download_takes_only_an_image_and_only_so_large(sandbox: SandboxServer) -> None:
    transport = Urllib3Transport(sandbox.base_url)
    client = WeComClient(transport, sleep=lambda s: None)
    way = client.add_contact_way(CREDS, users=["zhangsan"], state="ch_1")
    with pytest.raises(errors.WeComTransportError, match="application/json"):
        transport.download(f"{sandbox.base_url}/sandbox/health", timeout=3, max_bytes=1024)  # a JSON answer
    with pytest.raises(errors.WeComTransportError, match="over 100 bytes"):
        transport.download(way.qr_code, timeout=3, max_bytes=100)
    assert transport.download(way.qr_code, timeout=3, max_bytes=1 << 20).startswith(PNG)
