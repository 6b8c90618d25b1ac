"""The Hangul pieces of the accounts' names and IDs, for counting a search
of one or two syllables on 사용자 관리 (``accounts.models.AccountGram``).

A search like ``김`` matched every account of the office with ``LIKE``
(a fifth of 100,000 accounts: 50-80 ms on PostgreSQL, parallel workers
included); no trigram index answers one or two characters. The pieces are
kept by row triggers on the account, in its transaction: an insert adds the
account's pieces, a change of its name, ID, office or deletion replaces them
(a deleted account has none, as it is not listed), a delete removes them.
SQLite's usage list has had the same for its listing since 0002
(``listing_gram``); this one covers every account not deleted, mail or not.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Positions 1..100 (the longest name) for SQLite, which has no
# generate_series; a piece is one or two characters, one of them non-ASCII.
_POSITIONS = ", ".join(f"({k})" for k in range(1, 101))


def _sqlite_pieces(row: str) -> str:
    return (
        "INSERT OR IGNORE INTO accounts_accountgram (office_id, gram, account_id) "
        f"SELECT {row}.office_id, lower(substr(src.s, k.column1, n.column1)), {row}.id "
        f"FROM (SELECT {row}.name AS s UNION ALL SELECT {row}.login_id) AS src, "
        f"(VALUES {_POSITIONS}) AS k, (VALUES (1), (2)) AS n "
        "WHERE k.column1 + n.column1 - 1 <= length(src.s) "
        "AND substr(src.s, k.column1, n.column1) GLOB '*[^ -~]*'"
    )


_PG_PIECES = (
    "SELECT DISTINCT {row}.office_id, lower(substr(src.s, k, n)), {row}.id "
    "FROM {source}(VALUES ({row}.name), ({row}.login_id)) AS src(s) "
    "CROSS JOIN LATERAL generate_series(1, length(src.s)) AS k "
    "CROSS JOIN (VALUES (1), (2)) AS l(n) "
    "WHERE k + n - 1 <= length(src.s) AND substr(src.s, k, n) ~ '[^ -~]'"
)

_CHANGED = (
    "{old}.office_id IS DISTINCT FROM {new}.office_id OR {old}.name IS DISTINCT FROM {new}.name "
    "OR {old}.login_id IS DISTINCT FROM {new}.login_id "
    "OR ({old}.deleted_at IS NULL) <> ({new}.deleted_at IS NULL)"
)

POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION account_grams() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP <> 'INSERT' THEN DELETE FROM accounts_accountgram WHERE account_id = OLD.id; END IF; "
    "IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN "
    "INSERT INTO accounts_accountgram (office_id, gram, account_id) "
    + _PG_PIECES.format(row="NEW", source="")
    + " ON CONFLICT DO NOTHING; END IF; "
    "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER account_grams_insert AFTER INSERT ON accounts_account "
    "FOR EACH ROW EXECUTE FUNCTION account_grams()",
    "CREATE TRIGGER account_grams_update AFTER UPDATE OF office_id, name, login_id, deleted_at "
    "ON accounts_account FOR EACH ROW WHEN ("
    + _CHANGED.format(old="OLD", new="NEW")
    + ") EXECUTE FUNCTION account_grams()",
    "CREATE TRIGGER account_grams_delete AFTER DELETE ON accounts_account "
    "FOR EACH ROW EXECUTE FUNCTION account_grams()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS account_grams_insert ON accounts_account",
    "DROP TRIGGER IF EXISTS account_grams_update ON accounts_account",
    "DROP TRIGGER IF EXISTS account_grams_delete ON accounts_account",
    "DROP FUNCTION IF EXISTS account_grams()",
]
SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS account_gram_ai AFTER INSERT ON accounts_account "
    "WHEN new.deleted_at IS NULL BEGIN " + _sqlite_pieces("new") + "; END",
    "CREATE TRIGGER IF NOT EXISTS account_gram_au "
    "AFTER UPDATE OF office_id, name, login_id, deleted_at ON accounts_account WHEN "
    + _CHANGED.format(old="old", new="new").replace("IS DISTINCT FROM", "IS NOT")
    + " BEGIN DELETE FROM accounts_accountgram WHERE account_id = old.id; "
    + _sqlite_pieces("new")
    + " AND new.deleted_at IS NULL; END",
    "CREATE TRIGGER IF NOT EXISTS account_gram_ad AFTER DELETE ON accounts_account BEGIN "
    "DELETE FROM accounts_accountgram WHERE account_id = old.id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS account_gram_ai",
    "DROP TRIGGER IF EXISTS account_gram_au",
    "DROP TRIGGER IF EXISTS account_gram_ad",
]
# The accounts already there (after the triggers: on PostgreSQL creating
# them locks the table against writers until the migration commits).
FILL = {
    "postgresql": [
        "INSERT INTO accounts_accountgram (office_id, gram, account_id) "
        + _PG_PIECES.format(row="a", source="accounts_account AS a CROSS JOIN LATERAL ")
        + " AND a.deleted_at IS NULL ON CONFLICT DO NOTHING"
    ],
    "sqlite": [
        "INSERT OR IGNORE INTO accounts_accountgram (office_id, gram, account_id) "
        "SELECT src.office_id, lower(substr(src.s, k.column1, n.column1)), src.id "
        "FROM (SELECT id, office_id, name AS s FROM accounts_account WHERE deleted_at IS NULL "
        "UNION ALL SELECT id, office_id, login_id FROM accounts_account "
        "WHERE deleted_at IS NULL) AS src, "
        f"(VALUES {_POSITIONS}) AS k, (VALUES (1), (2)) AS n "
        "WHERE k.column1 + n.column1 - 1 <= length(src.s) "
        "AND substr(src.s, k.column1, n.column1) GLOB '*[^ -~]*'"
    ],
}


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor[schema_editor.connection.vendor]
        with schema_editor.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0014_office_tallies"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountGram",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("gram", models.CharField(max_length=2)),
                (
                    "account",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "office",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounts.office",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("office", "gram", "account"), name="account_gram_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
            elidable=False,
        ),
        migrations.RunPython(_run(FILL), migrations.RunPython.noop, elidable=False),
    ]
