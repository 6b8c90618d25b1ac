"""Per-office counts kept by the database: the users page's accounts and the
audit log's events by action.

Counting them took most of those pages' time at 100,000 accounts and
1,000,000 events (a parallel index-only scan of the office's events, 70 ms,
for every page of the audit log). The counts are now read from
``accounts_officetally`` (:mod:`accounts.tallies`), which triggers keep in
the same transaction as the rows they count:

- PostgreSQL: statement triggers with transition tables add one row per
  statement, office and kind, holding the change. An insert takes no lock,
  so two transactions writing events at once (an import of the mail log and
  an admin's change) never wait on each other, as they would on one counter
  row. A bulk insert of a million events adds one row.
- SQLite: row triggers move a single row per office and kind (one writer at
  a time there, so nothing waits for it that would not wait anyway).

Deleting an office deletes its tallies. The rows already there are counted
once, one row per office and kind, after the triggers are in place.
"""

from django.db import migrations, models

_AUDIT_KIND = "'audit.' || {row}.action"

POSTGRESQL = [
    # Events: one row per office and action a statement changed. An UPDATE
    # that moves no event to another action or office adds nothing.
    "CREATE OR REPLACE FUNCTION tally_audit() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'audit.' || action, count(*) FROM tally_new GROUP BY office_id, action; "
    "ELSIF TG_OP = 'DELETE' THEN "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'audit.' || action, -count(*) FROM tally_old GROUP BY office_id, action; "
    "ELSE "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, kind, sum(d) FROM ("
    "SELECT office_id, 'audit.' || action AS kind, 1 AS d FROM tally_new "
    "UNION ALL SELECT office_id, 'audit.' || action, -1 FROM tally_old) AS c "
    "GROUP BY office_id, kind HAVING sum(d) <> 0; "
    "END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER tally_audit_insert AFTER INSERT ON accounts_auditevent "
    "REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION tally_audit()",
    "CREATE TRIGGER tally_audit_delete AFTER DELETE ON accounts_auditevent "
    "REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION tally_audit()",
    "CREATE TRIGGER tally_audit_update AFTER UPDATE ON accounts_auditevent "
    "REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION tally_audit()",
    # Accounts not deleted (the users page lists those).
    "CREATE OR REPLACE FUNCTION tally_users() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'users', count(*) FROM tally_new WHERE deleted_at IS NULL "
    "GROUP BY office_id; "
    "ELSIF TG_OP = 'DELETE' THEN "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'users', -count(*) FROM tally_old WHERE deleted_at IS NULL "
    "GROUP BY office_id; "
    "ELSE "
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'users', sum(d) FROM ("
    "SELECT office_id, 1 AS d FROM tally_new WHERE deleted_at IS NULL "
    "UNION ALL SELECT office_id, -1 FROM tally_old WHERE deleted_at IS NULL) AS c "
    "GROUP BY office_id HAVING sum(d) <> 0; "
    "END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER tally_users_insert AFTER INSERT ON accounts_account "
    "REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION tally_users()",
    "CREATE TRIGGER tally_users_delete AFTER DELETE ON accounts_account "
    "REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION tally_users()",
    "CREATE TRIGGER tally_users_update AFTER UPDATE ON accounts_account "
    "REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION tally_users()",
    "CREATE OR REPLACE FUNCTION tally_office_gone() RETURNS trigger AS $$ BEGIN "
    "DELETE FROM accounts_officetally WHERE office_id IN (SELECT id FROM tally_old); "
    "RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER tally_office_delete AFTER DELETE ON accounts_office "
    "REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION tally_office_gone()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS tally_audit_insert ON accounts_auditevent",
    "DROP TRIGGER IF EXISTS tally_audit_delete ON accounts_auditevent",
    "DROP TRIGGER IF EXISTS tally_audit_update ON accounts_auditevent",
    "DROP TRIGGER IF EXISTS tally_users_insert ON accounts_account",
    "DROP TRIGGER IF EXISTS tally_users_delete ON accounts_account",
    "DROP TRIGGER IF EXISTS tally_users_update ON accounts_account",
    "DROP TRIGGER IF EXISTS tally_office_delete ON accounts_office",
    "DROP FUNCTION IF EXISTS tally_audit()",
    "DROP FUNCTION IF EXISTS tally_users()",
    "DROP FUNCTION IF EXISTS tally_office_gone()",
]


def _sqlite_move(office: str, kind: str, step: str) -> str:
    """Statements that add ``step`` to the one row of (office, kind),
    creating it first when the office has none yet."""
    return (
        f"INSERT INTO accounts_officetally (office_id, kind, n) SELECT {office}, {kind}, 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM accounts_officetally "
        f"WHERE office_id = {office} AND kind = {kind}); "
        f"UPDATE accounts_officetally SET n = n {step} "
        f"WHERE office_id = {office} AND kind = {kind};"
    )


SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS tally_audit_ai AFTER INSERT ON accounts_auditevent BEGIN "
    + _sqlite_move("new.office_id", _AUDIT_KIND.format(row="new"), "+ 1")
    + " END",
    "CREATE TRIGGER IF NOT EXISTS tally_audit_ad AFTER DELETE ON accounts_auditevent BEGIN "
    + _sqlite_move("old.office_id", _AUDIT_KIND.format(row="old"), "- 1")
    + " END",
    "CREATE TRIGGER IF NOT EXISTS tally_audit_au AFTER UPDATE OF office_id, action "
    "ON accounts_auditevent "
    "WHEN old.office_id IS NOT new.office_id OR old.action IS NOT new.action BEGIN "
    + _sqlite_move("old.office_id", _AUDIT_KIND.format(row="old"), "- 1")
    + " "
    + _sqlite_move("new.office_id", _AUDIT_KIND.format(row="new"), "+ 1")
    + " END",
    "CREATE TRIGGER IF NOT EXISTS tally_users_ai AFTER INSERT ON accounts_account "
    "WHEN new.deleted_at IS NULL BEGIN " + _sqlite_move("new.office_id", "'users'", "+ 1") + " END",
    "CREATE TRIGGER IF NOT EXISTS tally_users_ad AFTER DELETE ON accounts_account "
    "WHEN old.deleted_at IS NULL BEGIN " + _sqlite_move("old.office_id", "'users'", "- 1") + " END",
    # An UPDATE that deletes, restores or moves an account: the old row
    # leaves its count if it was counted, the new one joins if it is.
    "CREATE TRIGGER IF NOT EXISTS tally_users_au AFTER UPDATE OF office_id, deleted_at "
    "ON accounts_account "
    "WHEN old.office_id IS NOT new.office_id "
    "OR (old.deleted_at IS NULL) IS NOT (new.deleted_at IS NULL) BEGIN "
    "UPDATE accounts_officetally SET n = n - 1 "
    "WHERE office_id = old.office_id AND kind = 'users' AND old.deleted_at IS NULL; "
    "INSERT INTO accounts_officetally (office_id, kind, n) SELECT new.office_id, 'users', 0 "
    "WHERE new.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM accounts_officetally "
    "WHERE office_id = new.office_id AND kind = 'users'); "
    "UPDATE accounts_officetally SET n = n + 1 "
    "WHERE office_id = new.office_id AND kind = 'users' AND new.deleted_at IS NULL; END",
    "CREATE TRIGGER IF NOT EXISTS tally_office_ad AFTER DELETE ON accounts_office BEGIN "
    "DELETE FROM accounts_officetally WHERE office_id = old.id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS tally_audit_ai",
    "DROP TRIGGER IF EXISTS tally_audit_ad",
    "DROP TRIGGER IF EXISTS tally_audit_au",
    "DROP TRIGGER IF EXISTS tally_users_ai",
    "DROP TRIGGER IF EXISTS tally_users_ad",
    "DROP TRIGGER IF EXISTS tally_users_au",
    "DROP TRIGGER IF EXISTS tally_office_ad",
]

# The rows already there, counted once (same statements on both databases).
FILL = [
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'audit.' || action, count(*) FROM accounts_auditevent "
    "GROUP BY office_id, action",
    "INSERT INTO accounts_officetally (office_id, kind, n) "
    "SELECT office_id, 'users', count(*) FROM accounts_account WHERE deleted_at IS NULL "
    "GROUP BY office_id",
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
        ("accounts", "0013_listing_access_flag"),
    ]

    operations = [
        migrations.CreateModel(
            name="OfficeTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=48)),
                ("n", models.BigIntegerField()),
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
                    models.Index(fields=["office", "kind", "n"], name="tally_office_kind")
                ],
            },
        ),
        # The triggers first: on PostgreSQL creating them locks the tables
        # against writers until the migration commits, so the count below
        # sees every row and no write slips between it and the triggers.
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
            elidable=False,
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
