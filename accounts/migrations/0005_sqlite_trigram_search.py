"""FTS5 trigram tables (and the triggers that keep them) serving the usage
list's substring search on SQLite; see accounts/search_index.py. PostgreSQL
has its trigram GIN indexes (0003): there this migration does nothing."""

from django.db import migrations

from accounts import search_index


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        search_index.create(cursor)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        search_index.drop(cursor)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_account_language")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
