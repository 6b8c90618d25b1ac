"""SQLite's trigram search tables follow their tables (PostgreSQL uses
trigram GIN indexes instead and has no such tables)."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import Account
from accounts.search_index import SQLITE_TRIGGERS, fts_phrase
from tests.factories import make_account

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index only"),
]


def name_hits(text: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rowid FROM account_search_fts WHERE account_search_fts MATCH %s",
            [fts_phrase(text)],
        )
        return {row[0] for row in cursor.fetchall()}


def test_index_follows_inserts_renames_and_deletes(org):
    account = make_account(org.office, "trigram.test", "홍길동무")
    assert name_hits("길동무") == {account.pk}
    assert name_hits("GRAM.T") == {account.pk}  # case-insensitive, any position
    Account.objects.filter(pk=account.pk).update(name="임꺽정이")
    assert name_hits("길동무") == set() and name_hits("꺽정이") == {account.pk}
    Account.objects.filter(pk=account.pk).delete()
    assert name_hits("꺽정이") == set()


def test_quotes_in_the_search_are_literal(org):
    account = make_account(org.office, "quote", 'Say "hi" now')
    assert name_hits('"hi"') == {account.pk}


def test_every_trigger_is_installed_by_the_migration():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert SQLITE_TRIGGERS <= {row[0] for row in cursor.fetchall()}
