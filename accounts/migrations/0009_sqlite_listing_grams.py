"""SQLite: 1-2 character grams of the listed names and IDs, for Hangul
searches of one or two syllables (see accounts/search_index.py). PostgreSQL
needs none: there the scan is cheap enough and no trigram applies either."""

from django.db import migrations

from accounts import search_index


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        search_index.create_grams(cursor)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        search_index.drop_grams(cursor)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_mail_listing")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
