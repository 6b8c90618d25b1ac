"""The bench's destructive operations, on a small office of their own that
is created and dropped on every run: deleting a sub-account whose folder
holds many messages and emptying a big mailbox, each next to the same
operation on 10 messages.

The statements are counted, not only timed: these operations must issue the
same number of statements for 10 messages as for 50,000 (one set-based
UPDATE or DELETE each), since a statement per message would turn one click
into minutes of locked rows on a big mailbox. Equal counts prove it on any
machine, where times alone depend on the hardware."""

from __future__ import annotations

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Folder, Mailbox, Office
from accounts.services import inbox_of, mailbox_create
from devtools.bench_data import insert_messages


def _timed(call) -> tuple[int, float]:
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
    return len(captured.captured_queries), round(elapsed * 1000, 1)


def measure(domain: str, big_subaccount: int, big_mailbox: int, progress) -> dict:
    from accounts.services import mailbox_empty
    from subaccounts.services import subaccount_add, subaccount_delete

    office = Office.objects.create(domain=domain, name="Bench ops", default_quota_bytes=None)
    admin = Account.objects.create_account(
        office=office, login_id="admin", name="관리자", role=Account.Role.SUPER_ADMIN
    )
    results: dict = {}

    sub_rows = {}
    for label, count in (("10", 10), ("big", big_subaccount)):
        owner = Account.objects.create_account(office=office, login_id=f"owner{label}", name="주인")
        mailbox_create(account=owner)
        sub = subaccount_add(owner=owner, local_part=f"sub{label}", actor=admin, ip="127.0.0.1")
        folder = Folder.objects.get(subaccount=sub)
        progress(f"sub-account folder with {count:,} messages")
        insert_messages(folder, count)
        statements, ms = _timed(
            lambda owner=owner, sub=sub: subaccount_delete(
                owner=owner, local_part=sub.local_part, actor=admin, ip="127.0.0.1"
            )
        )
        mailbox = Mailbox.objects.get(account=owner)
        inbox = inbox_of(mailbox)
        assert inbox.messages.count() == count, "messages were lost on sub-account delete"
        sub_rows[label] = {"messages": count, "statements": statements, "ms": ms}
    results["delete_subaccount"] = {
        "big": sub_rows["big"],
        "ten": sub_rows["10"],
        "same_statements": sub_rows["big"]["statements"] == sub_rows["10"]["statements"],
    }

    empty_rows = {}
    for label, count in (("10", 10), ("big", big_mailbox)):
        account = Account.objects.create_account(
            office=office, login_id=f"full{label}", name="가득"
        )
        mailbox = mailbox_create(account=account)
        progress(f"mailbox with {count:,} messages")
        insert_messages(inbox_of(mailbox), count)
        statements, ms = _timed(
            lambda account=account: mailbox_empty(account=account, actor=admin, ip="127.0.0.1")
        )
        mailbox.refresh_from_db()
        assert mailbox.message_count == 0 and mailbox.used_bytes == 0
        empty_rows[label] = {"messages": count, "statements": statements, "ms": ms}
    results["empty_mailbox"] = {
        "big": empty_rows["big"],
        "ten": empty_rows["10"],
        "same_statements": empty_rows["big"]["statements"] == empty_rows["10"]["statements"],
    }
    return results
