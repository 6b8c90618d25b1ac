"""The usage list's read model (MailListing), kept by triggers on SQLite and
PostgreSQL alike; see accounts/search_index.py."""

from django.db import migrations, models

from accounts import search_index


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        search_index.create_listing(cursor, schema_editor.connection.vendor)


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        search_index.drop_listing(cursor, schema_editor.connection.vendor)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_list_indexes")]

    operations = [
        migrations.CreateModel(
            name="MailListing",
            fields=[
                (
                    "account",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="accounts.account",
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("login_id", models.CharField(max_length=64)),
                ("status", models.CharField(max_length=10)),
                ("subaccount_count", models.PositiveSmallIntegerField()),
                (
                    "office",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounts.office",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["office", "status", "subaccount_count"], name="listing_status"
                    ),
                    models.Index(fields=["office", "subaccount_count"], name="listing_subcount"),
                ],
            },
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
