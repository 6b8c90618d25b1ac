"""The usage list's total, kept by the database: a ``listing`` kind in
``accounts_officetally`` that counts the office's ``accounts_maillisting``
rows (accounts that use mail and are not deleted).

Every page of the list showed it, and counted it as an index-only scan of
the office's listing rows: 1.2 ms at 10,000 accounts, ten times that at
100,000, on every request, filtered or not. Read from the tally it is an
index range of a few rows.

The triggers are those of 0014 for a new table: on PostgreSQL statement
triggers with transition tables that add one row per statement and office
(no lock shared between writers), on SQLite row triggers that move one row.
The rows already there are counted once, after the triggers are in place.
"""

from django.db import migrations

POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION tally_listing() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'listing', count(*) FROM tally_new GROUP BY office_id; "
    "ELSIF TG_OP = 'DELETE' THEN "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'listing', -count(*) FROM tally_old GROUP BY office_id; "
    "ELSE "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'listing', sum(d) FROM ("
    "SELECT office_id, 1 AS d FROM tally_new "
    "UNION ALL SELECT office_id, -1 FROM tally_old) AS c "
    "GROUP BY office_id HAVING sum(d) <> 0; "
    "END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER tally_listing_insert AFTER INSERT ON accounts_maillisting "
    "REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION tally_listing()",
    "CREATE TRIGGER tally_listing_delete AFTER DELETE ON accounts_maillisting "
    "REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION tally_listing()",
    "CREATE TRIGGER tally_listing_update AFTER UPDATE ON accounts_maillisting "
    "REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION tally_listing()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS tally_listing_insert ON accounts_maillisting",
    "DROP TRIGGER IF EXISTS tally_listing_delete ON accounts_maillisting",
    "DROP TRIGGER IF EXISTS tally_listing_update ON accounts_maillisting",
    "DROP FUNCTION IF EXISTS tally_listing()",
    "DELETE FROM accounts_officetally WHERE kind = 'listing'",
]


def _sqlite_move(office: str, step: str) -> str:
    """Statements that add ``step`` to the office's one 'listing' row,
    creating it first when the office has none yet."""
    return (
        f"INSERT INTO accounts_officetally (office_id, kind, n) SELECT {office}, 'listing', 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM accounts_officetally "
        f"WHERE office_id = {office} AND kind = 'listing'); "
        f"UPDATE accounts_officetally SET n = n {step} "
        f"WHERE office_id = {office} AND kind = 'listing';"
    )


SQLITE = [
    # The mailbox trigger writes the listing with INSERT OR REPLACE, whose
    # implicit delete of a row already there fires no delete trigger
    # (SQLite's recursive_triggers is off): the replaced row leaves its
    # count here. A plain INSERT that fails on the same key is undone with
    # everything its triggers did.
    "CREATE TRIGGER IF NOT EXISTS tally_listing_bi BEFORE INSERT ON accounts_maillisting "
    "WHEN EXISTS (SELECT 1 FROM accounts_maillisting WHERE account_id = new.account_id) BEGIN "
    "UPDATE accounts_officetally SET n = n - 1 WHERE kind = 'listing' AND office_id = "
    "(SELECT office_id FROM accounts_maillisting WHERE account_id = new.account_id); END",
    "CREATE TRIGGER IF NOT EXISTS tally_listing_ai AFTER INSERT ON accounts_maillisting BEGIN "
    + _sqlite_move("new.office_id", "+ 1")
    + " END",
    "CREATE TRIGGER IF NOT EXISTS tally_listing_ad AFTER DELETE ON accounts_maillisting BEGIN "
    + _sqlite_move("old.office_id", "- 1")
    + " END",
    "CREATE TRIGGER IF NOT EXISTS tally_listing_au AFTER UPDATE OF office_id "
    "ON accounts_maillisting WHEN old.office_id IS NOT new.office_id BEGIN "
    + _sqlite_move("old.office_id", "- 1")
    + " "
    + _sqlite_move("new.office_id", "+ 1")
    + " END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS tally_listing_bi",
    "DROP TRIGGER IF EXISTS tally_listing_ai",
    "DROP TRIGGER IF EXISTS tally_listing_ad",
    "DROP TRIGGER IF EXISTS tally_listing_au",
    "DELETE FROM accounts_officetally WHERE kind = 'listing'",
]

FILL = [
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'listing', count(*) FROM accounts_maillisting GROUP BY office_id",
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
        ("accounts", "0017_audit_person_indexes_partial"),
    ]

    operations = [
        # The triggers first, then the count: on PostgreSQL the triggers'
        # creation locks the listing against writers until the migration
        # commits, so no row slips between the count and the triggers.
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
            elidable=False,
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
