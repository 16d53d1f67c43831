"""The chat sidebar (聊天工具栏, issue 13 §3): the page WeCom opens beside a chat, and the customer it shows.

``/sidebar`` renders wx.agentConfig's parameters, signed for the page's own URL, and loads WeCom's JS-SDK (the one
outside script, allowed in this page's CSP only; the sandbox's player offline) and ``sidebar.js``, which asks WeCom
for the chat's customer (getCurExternalContact) and opens ``/sidebar/customer``. Without JavaScript, or outside
WeCom, the page says it must be opened from a chat. ``/sidebar/customer?external_userid=`` is the customer: a staff
member only their own (another's is the 403 page).
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.console.pages import Html, PageCtx, PageResult, page
from chalicelib.console.sidebar_view import present
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@page(bp, "/console/{tenant_id}/sidebar", role=Role.STAFF, summary="The chat sidebar: agentConfig and the JS-SDK")
def sidebar(pc: PageCtx, tenant_id: str) -> PageResult:
    frame = pc.svc.sidebar.frame(pc.tenant, pc.query)
    context = {"title": "客户侧边栏", "active": "/sidebar", "frame": frame}
    context["customer_url"] = f"{pc.base}/sidebar/customer"
    return Html("sidebar/frame.html", context, script_origins=(frame.jssdk_url,))


@page(
    bp,
    "/console/{tenant_id}/sidebar/customer",
    role=Role.STAFF,
    summary="The chat's customer: profile, tags, stage, timeline, active plans and the next touch's script",
)
def customer(pc: PageCtx, tenant_id: str) -> PageResult:
    view = pc.svc.sidebar.customer(pc.tenant, pc.query.get("external_userid", ""), staff_scope=pc.staff_scope)
    return Html("sidebar/customer.html", {"title": "客户侧边栏", "active": "/sidebar", **present(view)})
