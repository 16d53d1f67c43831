"""How a customer's timeline reads on the console (chalicelib/console/ops_labels.py): codes named in Chinese."""

from __future__ import annotations

from chalicelib.console.ops_labels import entry_line


def test_a_purchase_and_the_plan_exit_it_caused_read_in_the_domains_terms() -> None:
    order = {"type": "order", "detail": {"kind": "full", "amount": 6980}}
    assert entry_line(order, {}) == "下单：正价课"
    assert entry_line({"type": "order", "detail": {"kind": "trial"}}, {}) == "下单：体验课"
    ended = {"type": "enrollment_ended", "detail": {"plan_id": "pl_a", "reason": "exit:order:full"}}
    assert entry_line(ended, {}) == "退出SOP计划：计划 pl_a，购买正价课后退出"
    refused = {"type": "enrollment_ended", "detail": {"plan_id": "pl_a", "reason": "exit:negative_reply:negative"}}
    assert entry_line(refused, {}) == "退出SOP计划：计划 pl_a，客户明确拒绝后退出"


def test_a_code_without_a_name_is_shown_as_it_is() -> None:
    ended = {"type": "enrollment_ended", "detail": {"plan_id": "pl_a", "reason": "exit:tag:any"}}
    assert entry_line(ended, {}) == "退出SOP计划：计划 pl_a，exit:tag:any"
    assert entry_line({"type": "order", "detail": {"kind": "gift"}}, {}) == "下单：gift"
