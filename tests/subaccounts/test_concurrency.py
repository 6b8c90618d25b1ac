"""R1 and R2 under concurrent requests, with real threads released together
at a barrier, each on its own database connection and transaction.

On PostgreSQL requests really overlap: the owner row lock queues one
owner's changes, the unique indexes decide between owners. SQLite's
IMMEDIATE transactions queue every writer; the tests run there too when the
test database is a file (SQLITE_TEST_PATH), and are skipped with the reason
for the default in-memory one, whose shared-cache table locks do not wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import close_old_connections, connection

from accounts.services import DomainError, message_deliver
from subaccounts import services
from subaccounts.models import SubAccount
from subaccounts.services import subaccount_add, subaccount_delete
from tests.subaccounts.helpers import assert_consistent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def shareable_database(transactional_db):
    # Decided once the test database exists: its name is only known then.
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "the in-memory SQLite test database cannot be shared by concurrent "
            "connections; run on PostgreSQL (make test-pg) or with SQLITE_TEST_PATH set"
        )


THREADS = 10


def run_together(calls: list[Callable[[], object]]) -> list[object]:
    """Run each call in its own thread, all released at once; return each
    call's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int) -> None:
        try:
            connection.ensure_connection()  # connect before the start line
            barrier.wait(timeout=30)
            results[index] = calls[index]()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    close_old_connections()
    return results


def adder(org, owner, local_part):
    return lambda: subaccount_add(actor=org.admin, owner=owner, local_part=local_part)


def deleter(org, owner, local_part):
    return lambda: subaccount_delete(actor=org.admin, owner=owner, local_part=local_part)


def split(results):
    ok = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, DomainError)]
    other = [r for r in results if isinstance(r, BaseException) and not isinstance(r, DomainError)]
    assert not other, f"unexpected errors: {other!r}"
    return ok, refused


def test_ten_concurrent_adds_to_an_owner_with_three_let_exactly_two_in(org):
    for n in range(1, 4):
        subaccount_add(actor=org.admin, owner=org.kim, local_part=f"old{n}")

    ok, refused = split(run_together([adder(org, org.kim, f"new{i}") for i in range(THREADS)]))

    assert len(ok) == 2
    assert len(refused) == THREADS - 2
    assert {error.code for error in refused} == {"limit"}
    assert SubAccount.objects.filter(owner=org.kim).count() == 5
    org.kim.refresh_from_db()
    assert org.kim.subaccount_count == 5
    assert sorted(SubAccount.objects.filter(owner=org.kim).values_list("slot", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert_consistent(org.office)


@pytest.mark.parametrize("round_", range(3))
def test_owners_claiming_the_same_id_at_once_let_exactly_one_in(org, round_):
    owners = [org.kim, org.lee, org.park, org.admin]
    calls = [adder(org, owners[i % len(owners)], f"Same.ID{round_}") for i in range(THREADS)]

    ok, refused = split(run_together(calls))

    assert len(ok) == 1
    assert {error.code for error in refused} == {"taken"}
    assert all(f"same.id{round_}@gabiaedu.com" in e.messages[0] for e in refused)
    assert SubAccount.objects.filter(local_part=f"same.id{round_}").count() == 1
    assert_consistent(org.office)


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_deletes_and_adds_on_one_owner_keep_every_rule(org, round_):
    for n in range(1, 6):
        sub = subaccount_add(actor=org.admin, owner=org.kim, local_part=f"old{n}")
        message_deliver(folder=sub.folder, size_bytes=100 * n)
    calls = [deleter(org, org.kim, f"old{n}") for n in range(1, 6)]
    calls += [adder(org, org.kim, f"new{n}-{round_}") for n in range(1, 6)]
    calls = calls[round_:] + calls[:round_]  # vary who starts first

    ok, refused = split(run_together(calls))

    assert {error.code for error in refused} <= {"limit"}
    count = SubAccount.objects.filter(owner=org.kim).count()
    assert count <= 5
    assert len(ok) >= 5  # every delete succeeds; adds succeed while there is room
    org.kim.mailbox.refresh_from_db()
    assert (org.kim.mailbox.used_bytes, org.kim.mailbox.message_count) == (1500, 5)
    assert_consistent(org.office)  # incl. no sub-account folder without its sub-account


def test_without_the_owner_lock_the_database_still_holds_r1(org, monkeypatch):
    """The lock is what makes adds to one owner queue up; without it the
    unique (owner, slot) index is the last word: racing adds pick the same
    free slot, the losers get a friendly refusal, never a sixth row and
    never a 500 -- but fewer may succeed than there was room for. (Measured
    on PostgreSQL 15: usually 1 of the 10 got in and 9 were told "someone
    changed this account at the same moment", sometimes 2. On SQLite the
    IMMEDIATE transactions queue the adds anyway: always 2.)"""
    unlocked = lambda owner: type(owner).objects.select_related("office").get(pk=owner.pk)  # noqa: E731
    monkeypatch.setattr(services, "_lock_owner", unlocked)
    for n in range(1, 4):
        subaccount_add(actor=org.admin, owner=org.kim, local_part=f"old{n}")

    ok, refused = split(run_together([adder(org, org.kim, f"new{i}") for i in range(THREADS)]))

    assert 1 <= len(ok) <= 2
    assert {error.code for error in refused} <= {"limit", "conflict"}
    assert SubAccount.objects.filter(owner=org.kim).count() <= 5
    assert_consistent(org.office)
