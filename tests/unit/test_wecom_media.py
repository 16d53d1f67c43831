"""media/upload: the client against the world in process and against the sandbox over real HTTP (multipart), and
the world's rule that a media_id lives 3 days (40007 after, on every API that takes one)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.ports import Attachment, Message, WeComCredentials, WelcomeOutcome
from devstack.sandbox import SandboxServer
from devstack.wecom_world import WeComWorld, WorldTransport

CORP = "wwmediatest000001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="s")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
DAY = 86_400
CUSTOMERS = itertools.count(1)
CUSTOMER = "wmMediaFriend01"  # zhang's customer, for mass messages


class Clock:
    def __init__(self) -> None:
        self.t = 1_780_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(clock: Clock) -> WeComWorld:
    return WeComWorld(clock=clock)


@pytest.fixture
def client(world: WeComWorld) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None)


def _welcome_code(world: WeComWorld) -> str:
    """A new customer adds zhang: a fresh welcome code (a pair related before gets none)."""
    ext = f"wmMedia{next(CUSTOMERS):04d}"
    event = world.event(CORP, "add_external_contact", userid="zhang", external_userid=ext, State="c1")
    return str(event["WelcomeCode"])


def test_an_upload_answers_a_media_id_and_its_created_time(client: WeComClient, world: WeComWorld) -> None:
    media = client.upload_media(CREDS, media_type="image", filename="海报.png", content_type="image/png", data=PNG)
    assert media.media_id and media.created_at == 1_780_000_000
    [call] = world.calls("media/upload")
    assert call.payload["type"] == "image" and call.payload["media"]["size"] == len(PNG)
    assert call.payload["media"]["filename"] == "海报.png"


@pytest.mark.parametrize(
    ("media_type", "content_type", "data", "why"),
    [
        ("gif", "image/gif", PNG, "media type"),
        ("image", "image/png", b"12345", "more than 5 bytes"),
        ("image", "image/png", b"x" * (10 * 1024 * 1024 + 1), "at most 10 MB"),
        ("voice", "audio/amr", b"x" * (2 * 1024 * 1024 + 1), "at most 2 MB"),
    ],
)
def test_documented_limits_are_checked_before_the_call(
    client: WeComClient, world: WeComWorld, media_type: str, content_type: str, data: bytes, why: str
) -> None:
    with pytest.raises(errors.InvalidError, match=why):
        client.upload_media(CREDS, media_type=media_type, filename="a", content_type=content_type, data=data)
    assert world.calls("media/upload") == []


def test_the_world_refuses_an_image_that_is_not_jpg_or_png(world: WeComWorld) -> None:
    token = world.handle("gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    body = {"type": "image", "media": {"filename": "a.gif", "content_type": "image/gif", "size": 100}}
    assert world.handle("media/upload", {"access_token": token}, body)["errcode"] == 40005
    assert world.handle("media/upload", {"access_token": token}, {"type": "image"})["errcode"] == 41005
    file = {"type": "file", "media": {"filename": "a.pdf", "content_type": "application/pdf", "size": 21 * 2**20}}
    assert world.handle("media/upload", {"access_token": token}, file)["errcode"] == 40006


def test_a_media_id_is_taken_for_three_days_then_40007(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    media = client.upload_media(CREDS, media_type="image", filename="a.png", content_type="image/png", data=PNG)
    world.event(CORP, "add_external_contact", userid="zhang", external_userid=CUSTOMER, State="c1")
    image = Message(text="资料", attachments=(Attachment("image", {"media_id": media.media_id}),))
    clock.t += 3 * DAY  # the last second of its life
    assert client.send_welcome_msg(CREDS, welcome_code=_welcome_code(world), message=image) == WelcomeOutcome.SENT
    clock.t += 1
    code = _welcome_code(world)
    assert client.send_welcome_msg(CREDS, welcome_code=code, message=image) == WelcomeOutcome.MEDIA_EXPIRED
    with pytest.raises(errors.WeComInvalidArgumentError) as expired:
        client.add_msg_template(CREDS, sender="zhang", message=image, external_userids=[CUSTOMER])
    assert expired.value.errcode == 40007
    card = Attachment("miniprogram", {"title": "t", "pic_media_id": media.media_id, "appid": "wx1", "page": "p"})
    with pytest.raises(errors.WeComInvalidArgumentError):
        client.add_msg_template(CREDS, sender="zhang", message=Message(attachments=(card,)),
                                external_userids=[CUSTOMER])  # fmt: skip
    fresh = client.upload_media(CREDS, media_type="image", filename="a.png", content_type="image/png", data=PNG)
    again = Message(text="资料", attachments=(Attachment("image", {"media_id": fresh.media_id}),))
    assert client.send_welcome_msg(CREDS, welcome_code=code, message=again) == WelcomeOutcome.SENT  # code unspent


def test_a_media_id_this_corp_never_uploaded_is_40007(client: WeComClient, world: WeComWorld) -> None:
    made_up = Message(attachments=(Attachment("file", {"media_id": "MEDIA_ID"}),))
    assert client.send_welcome_msg(CREDS, welcome_code=_welcome_code(world), message=made_up) == "media_expired"
    link = Message(attachments=(Attachment("link", {"title": "t", "url": "https://e.x"}),))
    assert client.send_welcome_msg(CREDS, welcome_code=_welcome_code(world), message=link) == WelcomeOutcome.SENT


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0).start()
    yield server
    server.stop()


def test_the_sandbox_takes_a_real_multipart_upload(sandbox: SandboxServer) -> None:
    client = WeComClient(Urllib3Transport(sandbox.base_url), sleep=lambda s: None)
    media = client.upload_media(CREDS, media_type="file", filename="讲义.pdf", content_type="application/pdf",
                                data=b"%PDF-1.4 " * 100)  # fmt: skip
    [call] = sandbox.world.calls("media/upload")
    assert call.payload["media"] == {
        "filename": "讲义.pdf",
        "content_type": "application/pdf",
        "size": 900,
        "sha256": call.payload["media"]["sha256"],
    }
    assert media.media_id in sandbox.world.corps[CORP].media
    with pytest.raises(errors.WeComInvalidArgumentError) as wrong:
        client.upload_media(CREDS, media_type="image", filename="a.pdf", content_type="application/pdf", data=PNG)
    assert wrong.value.errcode == 40005
