"""The mailbox's newest flagged sign-in on the usage list's read model.

The list's ``access=flagged`` filter read ``accounts_mailbox.access_flag_at``,
so its count joined every flagged mailbox to its account (at 100,000
accounts a hash join over the whole account table). With the time on
``accounts_maillisting`` and an (office, access_flag_at) index there, the
count is an index range like the other filters' counts.

The read model is kept by triggers (migration 0002); this one copies the
flag's time the same way:

- the mailbox insert trigger copies it with the account's columns;
- a new trigger copies it when an UPDATE changes it (the importer, the
  bench). It fires only when the value changes, so the importer's updates
  of the last access, which never name the column, do not reach it.

The column is nullable, so ``AddField`` is a plain ``ALTER TABLE … ADD
COLUMN`` on SQLite and the listing table's own triggers stay. SQLite cannot
replace a trigger: the mailbox insert trigger is dropped and created again.
Existing rows are filled from the mailboxes in one statement (UPDATE … FROM:
PostgreSQL, and SQLite since 3.33).
"""

from django.db import migrations, models

# The listing's columns as the mailbox insert trigger writes them.
_COLUMNS = "account_id, office_id, name, login_id, status, subaccount_count"
_FROM_ACCOUNT = "id, office_id, name, login_id, status, subaccount_count"
_ON_CONFLICT = (
    "ON CONFLICT (account_id) DO UPDATE SET office_id = EXCLUDED.office_id, "
    "name = EXCLUDED.name, login_id = EXCLUDED.login_id, status = EXCLUDED.status, "
    "subaccount_count = EXCLUDED.subaccount_count"
)

POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION listing_from_mailbox() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    f"INSERT INTO accounts_maillisting ({_COLUMNS}, access_flag_at) "
    f"SELECT {_FROM_ACCOUNT}, NEW.access_flag_at FROM accounts_account WHERE id = NEW.account_id "
    f"{_ON_CONFLICT}, access_flag_at = EXCLUDED.access_flag_at; RETURN NEW; END IF; "
    "IF TG_OP = 'UPDATE' THEN "
    "UPDATE accounts_maillisting SET access_flag_at = NEW.access_flag_at "
    "WHERE account_id = NEW.account_id; RETURN NEW; END IF; "
    "DELETE FROM accounts_maillisting WHERE account_id = OLD.account_id; RETURN OLD; "
    "END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS listing_mailbox_flag ON accounts_mailbox",
    "CREATE TRIGGER listing_mailbox_flag AFTER UPDATE OF access_flag_at ON accounts_mailbox "
    "FOR EACH ROW WHEN (OLD.access_flag_at IS DISTINCT FROM NEW.access_flag_at) "
    "EXECUTE FUNCTION listing_from_mailbox()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS listing_mailbox_flag ON accounts_mailbox",
    # The function as migration 0002 created it.
    "CREATE OR REPLACE FUNCTION listing_from_mailbox() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    f"INSERT INTO accounts_maillisting ({_COLUMNS}) "
    f"SELECT {_FROM_ACCOUNT} FROM accounts_account WHERE id = NEW.account_id "
    f"{_ON_CONFLICT}; RETURN NEW; END IF; "
    "DELETE FROM accounts_maillisting WHERE account_id = OLD.account_id; RETURN OLD; "
    "END $$ LANGUAGE plpgsql",
]
SQLITE = [
    "DROP TRIGGER IF EXISTS listing_mailbox_ai",
    "CREATE TRIGGER listing_mailbox_ai AFTER INSERT ON accounts_mailbox BEGIN "
    f"INSERT OR REPLACE INTO accounts_maillisting ({_COLUMNS}, access_flag_at) "
    f"SELECT {_FROM_ACCOUNT}, new.access_flag_at FROM accounts_account "
    "WHERE id = new.account_id; END",
    "CREATE TRIGGER IF NOT EXISTS listing_mailbox_au AFTER UPDATE OF access_flag_at "
    "ON accounts_mailbox WHEN old.access_flag_at IS NOT new.access_flag_at BEGIN "
    "UPDATE accounts_maillisting SET access_flag_at = new.access_flag_at "
    "WHERE account_id = new.account_id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS listing_mailbox_au",
    "DROP TRIGGER IF EXISTS listing_mailbox_ai",
    # The trigger as migration 0002 created it.
    "CREATE TRIGGER listing_mailbox_ai AFTER INSERT ON accounts_mailbox BEGIN "
    f"INSERT OR REPLACE INTO accounts_maillisting ({_COLUMNS}) "
    f"SELECT {_FROM_ACCOUNT} FROM accounts_account WHERE id = new.account_id; END",
]
# The same statement on both databases; a user deleted (and so not listed)
# has no listing row to fill.
FILL = (
    'UPDATE "accounts_maillisting" SET "access_flag_at" = m."access_flag_at" '
    'FROM "accounts_mailbox" AS m '
    'WHERE m."account_id" = "accounts_maillisting"."account_id" '
    'AND m."access_flag_at" IS NOT NULL'
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
        ("accounts", "0012_folder_counters"),
    ]

    operations = [
        migrations.AddField(
            model_name="maillisting",
            name="access_flag_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="maillisting",
            index=models.Index(fields=["office", "access_flag_at"], name="listing_access_flag"),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
            elidable=False,
        ),
        # Undone by dropping the column (the first step, reversed).
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
