"""Secrets in SSM, as commands an operator runs once per stage with its environment (docs/deploy.md, "Secrets").

    python -m chalicelib.jobs.secrets migrate            # move every tenant's credentials from the table into SSM
    python -m chalicelib.jobs.secrets set-admin-token    # the admin token, read from standard input (not argv)

Both are safe to run again: a migrated tenant is skipped, and a new admin token is a new version (the old one stops
working within a minute, the admin token's cache).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from chalicelib.bootstrap import services
from chalicelib.errors import SiyuError
from chalicelib.settings import SECRETS_SSM

PAGE = 100


def migrate(progress: Callable[[str], None]) -> dict[str, int]:
    """Move each tenant's inline credentials to the secret store, page by page, reporting each tenant."""
    svc = services()
    if svc.settings.secrets != SECRETS_SSM:
        raise SiyuError("SIYU_SECRETS is 'table' here: run with the deployed stage's environment (secrets in SSM)")
    moved = kept = 0
    cursor: str | None = None
    while True:
        page = svc.store.list_tenants(cursor=cursor, limit=PAGE)
        for tenant in page.items:
            if svc.store.migrate_secrets(tenant.tenant_id):
                moved += 1
                progress(f"{tenant.tenant_id}: credentials moved to SSM")
            else:
                kept += 1
                progress(f"{tenant.tenant_id}: already in SSM")
        cursor = page.next_cursor
        if not cursor:
            return {"moved": moved, "already": kept}


def set_admin_token(token: str) -> int:
    return services().admin_token.store(token)


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.jobs.secrets", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["migrate", "set-admin-token"])
    args = parser.parse_args(argv)
    try:
        if args.command == "migrate":
            report = migrate(lambda line: print(line, file=sys.stderr))
            print(f"moved {report['moved']} tenant(s), {report['already']} already in SSM")
        else:
            version = set_admin_token((stdin or sys.stdin).readline())
            print(f"admin token stored (version {version})")
    except SiyuError as exc:
        print(f"{args.command} refused: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
