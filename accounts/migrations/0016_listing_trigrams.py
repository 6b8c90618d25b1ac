"""The three-character pieces of the listed accounts' names, IDs
and sub-account addresses (``accounts.models.ListingTrigram``), so the
usage list counts a three-character search as an index range.

Row triggers keep them in the transaction that changes what they are cut
from: a listing row's insert, a change of its name, ID or office, or its
delete; a sub-account address's insert, change or delete. Each recomputes
the account's pieces whole (an account has a few dozen). The listing's
updates of the flag time name none of those columns and do not fire them.
SQLite gets the same from row triggers (its FTS5 tables found kim's
20,000 accounts, but counting and walking them cost more than the Django
admin's whole page there).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The pieces of one listed account: upper-cased as the search's LIKE
# compares, so a term of three characters matches exactly the accounts
# holding UPPER(term) as a piece.
_PIECES = (
    "SELECT DISTINCT l.office_id, substr(upper(src.s), k, 3), l.account_id "
    "FROM accounts_maillisting AS l "
    "CROSS JOIN LATERAL (SELECT l.name UNION ALL SELECT l.login_id "
    "UNION ALL SELECT a.local_part FROM accounts_address AS a "
    "WHERE a.account_id = l.account_id AND a.folder_id IS NOT NULL) AS src(s) "
    "CROSS JOIN LATERAL generate_series(1, length(src.s) - 2) AS k"
)

POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION listing_trigrams_of(account bigint) RETURNS void AS $$ BEGIN "
    "DELETE FROM accounts_listingtrigram WHERE account_id = account; "
    "INSERT INTO accounts_listingtrigram (office_id, gram, account_id) "
    + _PIECES
    + " WHERE l.account_id = account ON CONFLICT DO NOTHING; "
    "END $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE FUNCTION listing_trigrams() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'DELETE' THEN "
    "DELETE FROM accounts_listingtrigram WHERE account_id = OLD.account_id; RETURN NULL; "
    "END IF; "
    "PERFORM listing_trigrams_of(NEW.account_id); RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER listing_trigrams_insert AFTER INSERT ON accounts_maillisting "
    "FOR EACH ROW EXECUTE FUNCTION listing_trigrams()",
    "CREATE TRIGGER listing_trigrams_update AFTER UPDATE OF office_id, name, login_id "
    "ON accounts_maillisting FOR EACH ROW WHEN (OLD.office_id IS DISTINCT FROM NEW.office_id "
    "OR OLD.name IS DISTINCT FROM NEW.name OR OLD.login_id IS DISTINCT FROM NEW.login_id) "
    "EXECUTE FUNCTION listing_trigrams()",
    "CREATE TRIGGER listing_trigrams_delete AFTER DELETE ON accounts_maillisting "
    "FOR EACH ROW EXECUTE FUNCTION listing_trigrams()",
    # A sub-account's address (the account's own addresses have no folder).
    "CREATE OR REPLACE FUNCTION address_trigrams() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP <> 'INSERT' THEN PERFORM listing_trigrams_of(OLD.account_id); END IF; "
    "IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.account_id <> OLD.account_id) THEN "
    "PERFORM listing_trigrams_of(NEW.account_id); END IF; "
    "RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER address_trigrams_insert AFTER INSERT ON accounts_address "
    "FOR EACH ROW WHEN (NEW.folder_id IS NOT NULL) EXECUTE FUNCTION address_trigrams()",
    "CREATE TRIGGER address_trigrams_update AFTER UPDATE OF local_part, folder_id, account_id "
    "ON accounts_address FOR EACH ROW WHEN (OLD.local_part IS DISTINCT FROM NEW.local_part "
    "OR (OLD.folder_id IS NULL) <> (NEW.folder_id IS NULL) "
    "OR OLD.account_id IS DISTINCT FROM NEW.account_id) EXECUTE FUNCTION address_trigrams()",
    "CREATE TRIGGER address_trigrams_delete AFTER DELETE ON accounts_address "
    "FOR EACH ROW WHEN (OLD.folder_id IS NOT NULL) EXECUTE FUNCTION address_trigrams()",
    # The listed accounts already there (after the triggers: creating them
    # locks the tables against writers until the migration commits).
    "INSERT INTO accounts_listingtrigram (office_id, gram, account_id) "
    + _PIECES
    + " ON CONFLICT DO NOTHING",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS listing_trigrams_insert ON accounts_maillisting",
    "DROP TRIGGER IF EXISTS listing_trigrams_update ON accounts_maillisting",
    "DROP TRIGGER IF EXISTS listing_trigrams_delete ON accounts_maillisting",
    "DROP TRIGGER IF EXISTS address_trigrams_insert ON accounts_address",
    "DROP TRIGGER IF EXISTS address_trigrams_update ON accounts_address",
    "DROP TRIGGER IF EXISTS address_trigrams_delete ON accounts_address",
    "DROP FUNCTION IF EXISTS address_trigrams()",
    "DROP FUNCTION IF EXISTS listing_trigrams()",
    "DROP FUNCTION IF EXISTS listing_trigrams_of(bigint)",
]


# SQLite: the same pieces from row triggers. upper() there changes ASCII
# letters only, as its LIKE ignores the case of ASCII letters only. It has
# no generate_series: positions 1..100 (the longest name).
_POSITIONS = ", ".join(f"({k})" for k in range(1, 101))


def _sqlite_pieces(account: str) -> str:
    return (
        "INSERT OR IGNORE INTO accounts_listingtrigram (office_id, gram, account_id) "
        "SELECT src.office_id, substr(upper(src.s), k.column1, 3), src.account_id FROM ("
        "SELECT l.office_id, l.account_id, l.name AS s FROM accounts_maillisting AS l "
        f"WHERE l.account_id = {account} "
        "UNION ALL SELECT l.office_id, l.account_id, l.login_id FROM accounts_maillisting AS l "
        f"WHERE l.account_id = {account} "
        "UNION ALL SELECT l.office_id, l.account_id, a.local_part "
        "FROM accounts_maillisting AS l JOIN accounts_address AS a "
        "ON a.account_id = l.account_id AND a.folder_id IS NOT NULL "
        f"WHERE l.account_id = {account}) AS src, (VALUES {_POSITIONS}) AS k "
        "WHERE k.column1 + 2 <= length(src.s);"
    )


def _sqlite_recompute(account: str) -> str:
    return (
        f"DELETE FROM accounts_listingtrigram WHERE account_id = {account}; "
        + _sqlite_pieces(account)
    )


SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS listing_trigram_ai AFTER INSERT ON accounts_maillisting "
    "BEGIN " + _sqlite_recompute("new.account_id") + " END",
    "CREATE TRIGGER IF NOT EXISTS listing_trigram_au "
    "AFTER UPDATE OF office_id, name, login_id ON accounts_maillisting "
    "WHEN old.office_id IS NOT new.office_id OR old.name IS NOT new.name "
    "OR old.login_id IS NOT new.login_id "
    "BEGIN " + _sqlite_recompute("new.account_id") + " END",
    "CREATE TRIGGER IF NOT EXISTS listing_trigram_ad AFTER DELETE ON accounts_maillisting "
    "BEGIN DELETE FROM accounts_listingtrigram WHERE account_id = old.account_id; END",
    "CREATE TRIGGER IF NOT EXISTS address_trigram_ai AFTER INSERT ON accounts_address "
    "WHEN new.folder_id IS NOT NULL BEGIN " + _sqlite_recompute("new.account_id") + " END",
    "CREATE TRIGGER IF NOT EXISTS address_trigram_au "
    "AFTER UPDATE OF local_part, folder_id, account_id ON accounts_address "
    "WHEN old.local_part IS NOT new.local_part "
    "OR (old.folder_id IS NULL) <> (new.folder_id IS NULL) "
    "OR old.account_id IS NOT new.account_id "
    "BEGIN "
    + _sqlite_recompute("old.account_id")
    + " "
    + _sqlite_recompute("new.account_id")
    + " END",
    "CREATE TRIGGER IF NOT EXISTS address_trigram_ad AFTER DELETE ON accounts_address "
    "WHEN old.folder_id IS NOT NULL BEGIN " + _sqlite_recompute("old.account_id") + " END",
    # The listed accounts already there.
    "INSERT OR IGNORE INTO accounts_listingtrigram (office_id, gram, account_id) "
    "SELECT src.office_id, substr(upper(src.s), k.column1, 3), src.account_id FROM ("
    "SELECT office_id, account_id, name AS s FROM accounts_maillisting "
    "UNION ALL SELECT office_id, account_id, login_id FROM accounts_maillisting "
    "UNION ALL SELECT l.office_id, l.account_id, a.local_part "
    "FROM accounts_maillisting AS l JOIN accounts_address AS a "
    "ON a.account_id = l.account_id AND a.folder_id IS NOT NULL) AS src, "
    f"(VALUES {_POSITIONS}) AS k WHERE k.column1 + 2 <= length(src.s)",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS listing_trigram_ai",
    "DROP TRIGGER IF EXISTS listing_trigram_au",
    "DROP TRIGGER IF EXISTS listing_trigram_ad",
    "DROP TRIGGER IF EXISTS address_trigram_ai",
    "DROP TRIGGER IF EXISTS address_trigram_au",
    "DROP TRIGGER IF EXISTS address_trigram_ad",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor[schema_editor.connection.vendor]
        with schema_editor.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0015_account_grams"),
    ]

    operations = [
        migrations.CreateModel(
            name="ListingTrigram",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("gram", models.CharField(max_length=3)),
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
                        fields=("office", "gram", "account"), name="listing_trigram_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
            elidable=False,
        ),
    ]
