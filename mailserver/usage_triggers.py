"""Keeping the usage triggers alive through SQLite migrations.

The triggers (written out in migration 0001) copy Dovecot's usage rows into
``accounts_mailbox``. SQLite alters a table by rebuilding it (create, copy,
drop, rename) and refuses that rename while any trigger names the table, so
a later migration of ``accounts`` would fail with these triggers in place.
On SQLite they therefore live in ``mailserver_stashed_trigger`` while
migrations run: ``pre_migrate`` moves them there, ``post_migrate`` creates
them again (the migration itself only stashes them). The stash is a table,
not memory, so a migrate that fails half way loses nothing.
"""

from __future__ import annotations

STASH = "mailserver_stashed_trigger"
TABLE = "mailserver_mailusage"


def _sqlite(using: str):
    from django.db import connections

    connection = connections[using]
    return connection if connection.vendor == "sqlite" else None


def stash(cursor, name: str, sql: str) -> None:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {STASH} (name TEXT PRIMARY KEY, sql TEXT NOT NULL)")
    cursor.execute(f"INSERT OR REPLACE INTO {STASH} (name, sql) VALUES (%s, %s)", [name, sql])


def set_aside_sqlite_triggers(using: str = "default", **kwargs) -> None:
    connection = _sqlite(using)
    if connection is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            [TABLE],
        )
        for name, sql in cursor.fetchall():
            stash(cursor, name, sql)
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


def restore_sqlite_triggers(using: str = "default", **kwargs) -> None:
    connection = _sqlite(using)
    if connection is None:
        return
    tables = set(connection.introspection.table_names())
    if STASH not in tables or TABLE not in tables:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name, sql FROM {STASH}")
        for name, sql in cursor.fetchall():
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            cursor.execute(sql)
            cursor.execute(f"DELETE FROM {STASH} WHERE name = %s", [name])
