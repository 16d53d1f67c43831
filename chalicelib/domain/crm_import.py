"""CRM import (撞单 against the institution's own records): a sheet of past customers and orders, read and checked
whole. Pure: the caller passes the sheet's rows, the tenant (for its keyed digests) and today's date in.

What is kept of a row: the phone only as the tenant-keyed HMAC identity uses (``phone:<11 digits>``), the
institution's own customer id (客户编号), the product, the amount and the date. The name is read (so a sheet with a
姓名 column imports) and dropped: matching needs the phone alone, and a name kept would be one more thing to erase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.customers import normalize_phone
from chalicelib.domain.tenants import Tenant

HEADER_SCAN_ROWS = 10
MAX_ID = 64
MAX_PRODUCT = 100
MAX_AMOUNT = Decimal("10000000")  # ¥10 M: an order above is a typo (a phone number in the amount column…)
EARLIEST = date(2000, 1, 1)
FULL, TRIAL = "full", "trial"

REQUIRED = ("phone", "customer_id", "product", "amount", "date")
COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "mobile", "手机号", "手机", "手机号码", "电话", "联系电话"),
    "name": ("name", "姓名", "名字", "客户姓名", "学员姓名"),
    "product": ("product", "course", "产品", "课程", "产品/课程", "商品", "购买课程", "产品名称", "课程名称"),
    "amount": ("amount", "price", "金额", "订单金额", "实付金额", "支付金额", "价格"),
    "date": ("date", "order_date", "日期", "下单日期", "购买日期", "订单日期", "下单时间", "支付时间"),
    "customer_id": ("customer_id", "id", "客户编号", "客户id", "学员编号", "客户号", "会员编号"),
    "kind": ("kind", "type", "类型", "订单类型", "课程类型"),
}
LABELS = {
    "phone": "手机号",
    "name": "姓名",
    "product": "产品/课程",
    "amount": "金额",
    "date": "日期",
    "customer_id": "客户编号",
    "kind": "类型",
}
KINDS = {"full": FULL, "正价": FULL, "正价课": FULL, "trial": TRIAL, "体验": TRIAL, "体验课": TRIAL, "试听": TRIAL}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_MONEY_RE = re.compile(r"^\d+(\.\d{1,2})?$")


def _normalise_header(value: Any) -> str:
    text = re.sub(r"[（(].*?[)）]", "", str(value or "")).strip().lower()
    return re.sub(r"[\s_\-]+", "_", text)


HEADER_NAMES = {_normalise_header(alias): name for name, aliases in COLUMNS.items() for alias in aliases}


def cell_text(value: Any) -> str:
    """A cell as text: whole numbers without ".0" (a phone typed into Excel is a number), stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


@dataclass(frozen=True)
class CrmOrder:
    """One order as stored: under its phone's digest, keyed by its order key (their id + product + date)."""

    phone_digest: str
    order_key: str
    customer_ref: str  # the institution's own customer id (客户编号)
    product: str
    amount: str  # yuan, as a decimal string ("1999.00")
    date: str  # YYYY-MM-DD, the tenant's local day of the order
    kind: str = FULL
    import_id: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "customer_ref": self.customer_ref,
            "product": self.product,
            "amount": self.amount,
            "date": self.date,
            "kind": self.kind,
        }


@dataclass
class CrmSheet:
    """The sheet read: its orders, the header it was read by, and every problem (with its row number)."""

    orders: list[CrmOrder] = field(default_factory=list)
    rows: int = 0  # data rows read (blank ones not counted)
    header_row: int = 0
    columns: dict[int, str] = field(default_factory=dict)  # column index -> canonical name
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"row", "column", "message"}

    def error(self, row: int | None, column: str | None, message: str) -> None:
        self.errors.append({"row": row, "column": column, "message": message})

    @property
    def phones(self) -> int:
        return len({o.phone_digest for o in self.orders})

    @property
    def customers(self) -> int:
        return len({o.customer_ref for o in self.orders})

    def by_row(self) -> list[dict[str, Any]]:
        """The row problems grouped per row, in row order: ``[{"row": n, "errors": [{"column", "message"}]}]``."""
        grouped: dict[int, list[dict[str, Any]]] = {}
        for e in self.errors:
            if e["row"] is not None:
                grouped.setdefault(e["row"], []).append({"column": e["column"], "message": e["message"]})
        return [{"row": n, "errors": grouped[n]} for n in sorted(grouped)]


def find_header(rows: list[tuple[int, list[Any]]]) -> tuple[int, dict[int, str]] | None:
    """(row number, column index -> canonical name) of the first row naming two known columns."""
    for number, cells in rows[:HEADER_SCAN_ROWS]:
        names: dict[int, str] = {}
        for i, c in enumerate(cells):
            name = HEADER_NAMES.get(_normalise_header(c))
            if name is not None and name not in names.values():
                names[i] = name
        if len(names) >= 2:
            return number, names
    return None


def parse_sheet(rows: list[tuple[int, list[Any]]], tenant: Tenant, today: date) -> CrmSheet:
    """Every row checked; an order per good row. Duplicate orders (same 客户编号, product and date) and a 客户编号
    given with two different phones are errors, each naming the row it repeats."""
    sheet = CrmSheet()
    found = find_header(rows)
    if found is None:
        expected = "、".join(LABELS[c] for c in REQUIRED)
        sheet.error(None, None, f"no header row found in the first {HEADER_SCAN_ROWS} rows; expected {expected}")
        return sheet
    sheet.header_row, sheet.columns = found
    missing = [c for c in REQUIRED if c not in sheet.columns.values()]
    if missing:
        names = "、".join(f"{LABELS[c]} ({c})" for c in missing)
        sheet.error(sheet.header_row, None, f"the header lacks required columns: {names}")
        return sheet
    seen_orders: dict[str, int] = {}
    phone_of_ref: dict[str, tuple[str, int]] = {}
    for number, cells in rows:
        if number <= sheet.header_row:
            continue
        values = {name: cells[i] if i < len(cells) else None for i, name in sheet.columns.items()}
        if all(not cell_text(v) for v in values.values()):
            continue
        sheet.rows += 1
        order = _parse_row(sheet, number, values, tenant, today)
        if order is None:
            continue
        first = seen_orders.setdefault(order.order_key, number)
        if first != number:
            sheet.error(number, None, f"duplicate order: the same 客户编号, product and date as row {first}")
            continue
        prior = phone_of_ref.setdefault(order.customer_ref, (order.phone_digest, number))
        if prior[0] != order.phone_digest:
            sheet.error(number, "phone", f"客户编号 {order.customer_ref} has another phone on row {prior[1]}")
            continue
        sheet.orders.append(order)
    if sheet.rows == 0:
        sheet.error(None, None, "the sheet has no rows below its header")
    return sheet


def _parse_row(sheet: CrmSheet, number: int, values: dict[str, Any], tenant: Tenant, today: date) -> CrmOrder | None:
    before = len(sheet.errors)
    phone_text = cell_text(values["phone"])
    phone = normalize_phone(phone_text) if phone_text else None
    if not phone_text:
        sheet.error(number, "phone", "the phone is missing")
    elif phone is None:
        sheet.error(number, "phone", "not a mainland mobile number (11 digits starting with 1)")
    ref = cell_text(values["customer_id"])
    if not ref:
        sheet.error(number, "customer_id", "the 客户编号 (their customer id) is missing")
    elif len(ref) > MAX_ID:
        sheet.error(number, "customer_id", f"the 客户编号 is longer than {MAX_ID} characters")
    product = cell_text(values["product"])
    if not product:
        sheet.error(number, "product", "the product is missing")
    elif len(product) > MAX_PRODUCT:
        sheet.error(number, "product", f"the product is longer than {MAX_PRODUCT} characters")
    amount = parse_amount(values["amount"])
    if amount is None:
        sheet.error(number, "amount", "not an amount in yuan (e.g. 1999 or 19.90, at most 2 decimals, ≥ 0)")
    day = parse_day(values["date"])
    if day is None:
        sheet.error(number, "date", "not a date (YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日)")
    elif day > today:
        sheet.error(number, "date", "is in the future")
    elif day < EARLIEST:
        sheet.error(number, "date", f"is before {EARLIEST.isoformat()}")
    kind_text = cell_text(values.get("kind")).lower()
    kind = KINDS.get(kind_text) if kind_text else FULL
    if kind is None:
        sheet.error(number, "kind", "the type is 正价 (full) or 体验 (trial)")
    if len(sheet.errors) > before or phone is None or amount is None or day is None or kind is None:
        return None
    when = day.isoformat()
    return CrmOrder(
        phone_digest=tenant.hmac_hex("phone:" + phone),
        order_key=order_key(tenant, ref, product, when),
        customer_ref=ref,
        product=product,
        amount=str(amount.quantize(Decimal("0.01"))),
        date=when,
        kind=kind,
    )


def order_key(tenant: Tenant, customer_ref: str, product: str, day: str) -> str:
    """An order's identity, the same from any file that holds it: their customer id, the product and the day."""
    return tenant.hmac_hex(f"crm:{customer_ref}\x1f{product}\x1f{day}")


def parse_amount(value: Any) -> Decimal | None:
    """Yuan ≥ 0 with at most 2 decimals; "¥1,999.00" and "1999元" read as 1999."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
            return None
        return amount
    text = re.sub(r"[¥￥,，元\s]", "", cell_text(value))
    if not _MONEY_RE.match(text):
        return None
    amount = Decimal(text)
    return amount if amount <= MAX_AMOUNT else None


def parse_day(value: Any) -> date | None:
    """A date cell (XLSX) or text in the usual formats; a time after the date ("2025-03-01 10:20") is dropped."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if not text:
        return None
    text = re.split(r"[\sT]", text, maxsplit=1)[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def import_id_of(tenant: Tenant, file_digest: str) -> str:
    """The same file gives the same import: uploading it again resumes or repeats it, never doubles it."""
    return "ci_" + tenant.hmac_hex("crmfile:" + file_digest, length=20)


def order_event_id(order: CrmOrder) -> str:
    """The business event an order becomes on a customer: one id per order, whichever file or scan brings it."""
    return "crm:" + order.order_key
