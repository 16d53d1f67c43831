"""The sheet import's problems in Chinese, for the console: services/plan_import.py words them in English (the JSON
API's language, which its tests and clients read); ops read them here. A message this table does not know is shown
as it is, so a new problem is never hidden."""

from __future__ import annotations

import re

# (the English message as plan_import writes it, its Chinese); the groups carry the values over.
PATTERNS: tuple[tuple[str, str], ...] = (
    (r"unknown content type '(.*)': use .*", "不认识的内容类型“{0}”：请写 互动、营销、服务、内容、每日一练 或 公告"),
    (r"the message is empty", "内容是空的"),
    (r"the message is (\d+) bytes in UTF-8; WeCom allows (\d+)", "内容有 {0} 字节，企业微信最多 {1} 字节"),
    (
        r"step id must be 1-32 letters, digits, - or _, got '(.*)'",
        "步骤编号只能用 1–32 个字母、数字、- 或 _（现在是“{0}”）",
    ),
    (r"(.+) is (\d+) characters; at most (\d+)", "“{0}”有 {1} 个字，最多 {2} 个"),
    (r"minutes must be a whole number ≥ 0, got '(.*)'", "分钟数须为不小于 0 的整数（现在是“{0}”）"),
    (r"give either (.+) or day \+ time, not both", "“{0}”和“天数+时间”只能填一种"),
    (r"(.+) is empty \(0 = the day the customer joined\)", "“{0}”没有填（0 表示加好友当天）"),
    (r"day must be a whole number from (-?\d+) to 365, got '(.*)'", "天数须为 {0} 到 365 的整数（现在是“{1}”）"),
    (r"(.+) is empty \(HH:MM\)", "“{0}”没有填（写成 HH:MM，如 20:00）"),
    (r"time must be HH:MM from 00:00 to 23:59, got '(.*)'", "时间须为 00:00 到 23:59 之间的 HH:MM（现在是“{0}”）"),
    (
        r"unknown staff '(.*)': write a staff userid or name, or owner \(负责人\)",
        "找不到员工“{0}”：请写员工账号或姓名，或写“负责人”",
    ),
    (r"staff '(.*)' is inactive", "员工“{0}”已停用"),
    (r"(\d+) staff members are named '(.*)'; write the userid instead", "有 {0} 位员工叫“{1}”：请改写员工账号"),
    (
        r"no header row found in the first (\d+) rows; .*",
        "前 {0} 行里没有表头：表头应写 天数、时间、内容类型、内容、执行人、话术",
    ),
    (r"missing column\(s\): (.*)", "缺少列：{0}"),
    (r"two columns mean (\w+): (.*)", "两列表示同一个意思（{1}）：请删掉一列"),
    (r"the sheet has no steps below its header row", "表头下面没有任何步骤"),
    (r"name is required.*", "请填写计划名称"),
    (r"priority must be a whole number from 0 to 1000", "优先级须为 0 到 1000 的整数"),
    (r"holdout_percent must be a whole number 0\.\.50", "对照组比例须为 0 到 50 的整数"),
    (r"the sheet is over (\d+) KB", "表格超过 {0} KB"),
    (r"the CSV is not UTF-8 \(or GB18030\) text", "CSV 文件不是 UTF-8（或 GB18030）编码的文字"),
    (r"the file is not a readable XLSX workbook", "这个文件不是能读取的 XLSX 表格"),
    (r"send the sheet as text/csv or .*", "请上传 CSV 或 XLSX 表格"),
)
_COMPILED = tuple((re.compile(f"^{english}$", re.DOTALL), chinese) for english, chinese in PATTERNS)


def zh(message: str) -> str:
    """The problem in Chinese, or as it was when it is not one the import writes."""
    for pattern, chinese in _COMPILED:
        match = pattern.match(message)
        if match:
            return chinese.format(*match.groups())
    return message
