"""An indexed substring search for SQLite (PostgreSQL has trigram GIN
indexes, migration 0003).

SQLite has no index that serves ``LIKE '%…%'``; its FTS5 ``trigram``
tokenizer (SQLite 3.34+) does, for patterns of three characters or more. Two
FTS5 tables mirror what the usage list searches:

- ``account_search_fts`` (rowid = account id): name and ID;
- ``address_search_fts`` (rowid = address id, with the owner's account id):
  every address of the office, sub-account addresses included.

Triggers keep them equal to their tables. Django rebuilds a SQLite table to
alter it (create, copy, drop, rename), which drops that table's triggers, so
:func:`ensure_sqlite_search_index` runs after every ``migrate`` and puts back
any missing trigger, refilling the index when one was missing.
"""

from __future__ import annotations

TABLES = {
    "account_search_fts": "CREATE VIRTUAL TABLE IF NOT EXISTS account_search_fts "
    "USING fts5(name, login_id, tokenize='trigram')",
    "address_search_fts": "CREATE VIRTUAL TABLE IF NOT EXISTS address_search_fts "
    "USING fts5(local_part, account_id UNINDEXED, tokenize='trigram')",
}

FILL = {
    "account_search_fts": "INSERT INTO account_search_fts(rowid, name, login_id) "
    "SELECT id, name, login_id FROM accounts_account",
    "address_search_fts": "INSERT INTO address_search_fts(rowid, local_part, account_id) "
    "SELECT id, local_part, account_id FROM accounts_address",
}

TRIGGERS = {
    "account_search_ai": "CREATE TRIGGER IF NOT EXISTS account_search_ai "
    "AFTER INSERT ON accounts_account BEGIN "
    "INSERT INTO account_search_fts(rowid, name, login_id) "
    "VALUES (new.id, new.name, new.login_id); END",
    "account_search_ad": "CREATE TRIGGER IF NOT EXISTS account_search_ad "
    "AFTER DELETE ON accounts_account BEGIN "
    "DELETE FROM account_search_fts WHERE rowid = old.id; END",
    "account_search_au": "CREATE TRIGGER IF NOT EXISTS account_search_au "
    "AFTER UPDATE OF name, login_id ON accounts_account BEGIN "
    "DELETE FROM account_search_fts WHERE rowid = old.id; "
    "INSERT INTO account_search_fts(rowid, name, login_id) "
    "VALUES (new.id, new.name, new.login_id); END",
    "address_search_ai": "CREATE TRIGGER IF NOT EXISTS address_search_ai "
    "AFTER INSERT ON accounts_address BEGIN "
    "INSERT INTO address_search_fts(rowid, local_part, account_id) "
    "VALUES (new.id, new.local_part, new.account_id); END",
    "address_search_ad": "CREATE TRIGGER IF NOT EXISTS address_search_ad "
    "AFTER DELETE ON accounts_address BEGIN "
    "DELETE FROM address_search_fts WHERE rowid = old.id; END",
    "address_search_au": "CREATE TRIGGER IF NOT EXISTS address_search_au "
    "AFTER UPDATE OF local_part, account_id ON accounts_address BEGIN "
    "DELETE FROM address_search_fts WHERE rowid = old.id; "
    "INSERT INTO address_search_fts(rowid, local_part, account_id) "
    "VALUES (new.id, new.local_part, new.account_id); END",
}

# What the usage list's search asks (``%s``: an FTS5 phrase, fts_phrase()).
ACCOUNT_MATCH = "SELECT rowid FROM account_search_fts WHERE account_search_fts MATCH %s"
ADDRESS_MATCH = "SELECT account_id FROM address_search_fts WHERE address_search_fts MATCH %s"

# The shortest pattern the trigram index can answer.
MIN_INDEXED_LENGTH = 3


def create(cursor) -> None:
    for sql in TABLES.values():
        cursor.execute(sql)
    for table in TABLES:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(FILL[table])
    for sql in TRIGGERS.values():
        cursor.execute(sql)


def drop(cursor) -> None:
    for name in TRIGGERS:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def ensure_sqlite_search_index(using: str = "default", **kwargs) -> None:
    """post_migrate: put back triggers a table rebuild removed, and refill
    the index if any was missing (rows may have changed meanwhile)."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    tables = set(connection.introspection.table_names(include_views=True))
    if not set(TABLES) <= tables:
        return  # migration 0004 not applied (yet)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()} & set(TRIGGERS)
        if present != set(TRIGGERS):
            create(cursor)


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: a literal substring, whatever it holds."""
    return '"' + text.replace('"', '""') + '"'


def refresh_sqlite_statistics(using: str = "default", plan=None, **kwargs) -> None:
    """post_migrate: SQLite plans from the statistics ANALYZE stores and
    never gathers them itself; a new index without them can look better
    than it is (the usage list then sorts 100,000 rows instead of walking
    its name index). Refreshed whenever migrations changed the schema."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite" or not plan:
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
