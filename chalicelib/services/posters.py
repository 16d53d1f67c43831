"""The channel poster (渠道海报): the channel's WeCom QR image on a printable card with its name.

Pillow is imported on the first poster only (no other path needs it; cold starts stay low). Chinese text needs a
CJK font, which Siyu does not ship: the first of FONT_CANDIDATES found on the machine is used (Debian's
fonts-wqy-zenhei locally and in CI; a font layer's /opt/fonts deployed). Where none is found (the bare Lambda runtime
has none), the poster is the code and its frame without text, so the download never fails for want of a font.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from chalicelib.errors import UpstreamError

WIDTH, HEIGHT = 750, 1100  # a phone-screen-shaped card; prints well at A5
QR_SIZE = 520
BAND = (7, 193, 96)  # WeCom green
FONT_CANDIDATES = (
    "/opt/fonts/wqy-zenhei.ttc",  # deployed: a Lambda layer holding the font (docs/deploy.md, "The channel poster")
    "/opt/fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
CAPTION = "微信扫码，添加老师企业微信"


@cache
def cjk_font() -> str | None:
    """The first CJK font on this machine, or None."""
    return next((path for path in FONT_CANDIDATES if Path(path).is_file()), None)


def render_poster(qr: bytes, title: str, *, font_path: str | None) -> bytes:
    """A PNG poster: a band with ``title``, the QR code, a caption (text only with a font)."""
    from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

    try:
        code = Image.open(io.BytesIO(qr)).convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise UpstreamError("WeCom's QR image could not be read") from exc
    card = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, WIDTH, 220), fill=BAND)
    top = (HEIGHT - QR_SIZE) // 2 + 40
    left = (WIDTH - QR_SIZE) // 2
    draw.rounded_rectangle((left - 24, top - 24, left + QR_SIZE + 24, top + QR_SIZE + 24), 24, outline=BAND, width=6)
    card.paste(code.resize((QR_SIZE, QR_SIZE), Image.Resampling.NEAREST), (left, top))
    if font_path is not None:
        big = ImageFont.truetype(font_path, _fit(title, font_path, 56))
        small = ImageFont.truetype(font_path, 32)
        draw.text((WIDTH // 2, 110), title, font=big, fill="white", anchor="mm")
        draw.text((WIDTH // 2, top + QR_SIZE + 90), CAPTION, font=small, fill=(51, 51, 51), anchor="mm")
    out = io.BytesIO()
    card.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _fit(title: str, font_path: str, size: int) -> int:
    """The largest size ≤ ``size`` at which ``title`` fits the band's width."""
    from PIL import ImageFont

    while size > 20 and ImageFont.truetype(font_path, size).getlength(title) > WIDTH - 80:
        size -= 4
    return size
