"""Indexes for the usage list at 100,000 accounts (issue 7).

- The sub-account filter's index also holds the status, so the list's two
  filters count from the index alone.
- PostgreSQL only: the list sorts share and last access with NULLs as the
  smallest value (ASC NULLS FIRST / DESC NULLS LAST); a B-tree built NULLS
  FIRST serves both directions, the default one neither. (SQLite puts NULLs
  first anyway, and its CREATE INDEX has no NULLS clause.) And a trigram
  index on addresses, for finding an owner by part of a sub-account ID.
"""

from django.db import migrations, models

PG_INDEXES = {
    "mailbox_office_share_nf": (
        "accounts_mailbox",
        "btree (office_id, usage_share NULLS FIRST)",
    ),
    "mailbox_office_access_nf": (
        "accounts_mailbox",
        "btree (office_id, last_access_at NULLS FIRST)",
    ),
    "address_local_part_trgm": ("accounts_address", 'gin (UPPER("local_part") gin_trgm_ops)'),
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, definition) in PG_INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING {definition}')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in PG_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_export_job")]

    operations = [
        migrations.RemoveIndex(model_name="account", name="account_office_subcount"),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                fields=["office", "subaccount_count", "status"], name="account_office_subcount"
            ),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
