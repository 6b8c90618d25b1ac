"""Trigram GIN indexes that serve the usage list's substring search on
PostgreSQL (``UPPER(col) LIKE UPPER('%q%')`` is what ``icontains`` emits).
SQLite has no such index type: there the migration does nothing."""

from django.db import migrations

INDEXES = {
    "account_name_trgm": 'UPPER("name") gin_trgm_ops',
    "account_login_id_trgm": 'UPPER("login_id") gin_trgm_ops',
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "accounts_account" USING gin ({expression})'
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
