"""Each folder's message count and size as counters on the folder, filled
from the messages already stored.

The columns are added with literal SQL rather than ``AddField`` and
``AddConstraint``: on SQLite each of those rebuilds the folder table (four
copies of every folder of every office), where ``ADD COLUMN`` with a
constant default and its own CHECK is a change of the schema alone. On
PostgreSQL the default is dropped again at once, as Django would leave it;
SQLite cannot drop a default, so there it stays (0, the model's default).

The fill is one grouped pass over the (folder, size_bytes) index, written
only into folders that hold mail.
"""

from django.db import migrations, models
from django.db.models import Q

POSTGRESQL = [
    'ALTER TABLE "accounts_folder" '
    'ADD COLUMN "message_count" integer DEFAULT 0 NOT NULL, '
    'ADD COLUMN "size_bytes" bigint DEFAULT 0 NOT NULL',
    'ALTER TABLE "accounts_folder" '
    'ALTER COLUMN "message_count" DROP DEFAULT, '
    'ALTER COLUMN "size_bytes" DROP DEFAULT',
    'ALTER TABLE "accounts_folder" '
    'ADD CONSTRAINT "folder_count_nonnegative" CHECK ("message_count" >= 0), '
    'ADD CONSTRAINT "folder_size_nonnegative" CHECK ("size_bytes" >= 0)',
]
POSTGRESQL_DROP = [
    'ALTER TABLE "accounts_folder" DROP COLUMN "size_bytes", DROP COLUMN "message_count"',
]
SQLITE = [
    'ALTER TABLE "accounts_folder" ADD COLUMN "message_count" integer DEFAULT 0 NOT NULL '
    'CONSTRAINT "folder_count_nonnegative" CHECK ("message_count" >= 0)',
    'ALTER TABLE "accounts_folder" ADD COLUMN "size_bytes" bigint DEFAULT 0 NOT NULL '
    'CONSTRAINT "folder_size_nonnegative" CHECK ("size_bytes" >= 0)',
]
SQLITE_DROP = [
    'ALTER TABLE "accounts_folder" DROP COLUMN "size_bytes"',
    'ALTER TABLE "accounts_folder" DROP COLUMN "message_count"',
]
# The same statement on both databases (UPDATE … FROM: PostgreSQL, and
# SQLite since 3.33).
FILL = (
    'UPDATE "accounts_folder" SET "message_count" = t.n, "size_bytes" = t.size '
    'FROM (SELECT "folder_id", COUNT(*) AS n, SUM("size_bytes") AS size '
    'FROM "accounts_message" GROUP BY "folder_id") AS t '
    'WHERE t."folder_id" = "accounts_folder"."id"'
)


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor[schema_editor.connection.vendor]
        with schema_editor.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_listing_audit_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(
                    _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
                    _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
                ),
            ],
            state_operations=[
                migrations.AddField(
                    model_name="folder",
                    name="message_count",
                    field=models.IntegerField(default=0, verbose_name="messages"),
                ),
                migrations.AddField(
                    model_name="folder",
                    name="size_bytes",
                    field=models.BigIntegerField(default=0, verbose_name="size"),
                ),
                migrations.AddConstraint(
                    model_name="folder",
                    constraint=models.CheckConstraint(
                        condition=Q(message_count__gte=0), name="folder_count_nonnegative"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="folder",
                    constraint=models.CheckConstraint(
                        condition=Q(size_bytes__gte=0), name="folder_size_nonnegative"
                    ),
                ),
            ],
        ),
        # Undone by dropping the columns (the step above, reversed).
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
