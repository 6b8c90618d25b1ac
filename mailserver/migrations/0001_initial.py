"""Dovecot's usage rows (quota_clone through dict-sql) and the triggers that
copy them into the console's mailboxes, so a delivery shows in the usage
list (sorted and filtered on indexed mailbox columns) within seconds."""

from django.db import migrations, models

# Dovecot knows a user by the address its userdb returns: the account's
# primary address. Figures never go below zero (the mailbox's checks).
SQLITE_TRIGGERS = {
    "mailserver_usage_ai": (
        "CREATE TRIGGER mailserver_usage_ai AFTER INSERT ON mailserver_mailusage BEGIN "
        "UPDATE accounts_mailbox SET used_bytes = MAX(COALESCE(new.bytes, 0), 0), "
        "message_count = MAX(COALESCE(new.messages, 0), 0) "
        "WHERE account_id = (SELECT id FROM accounts_account WHERE email = new.username); END"
    ),
    "mailserver_usage_au": (
        "CREATE TRIGGER mailserver_usage_au AFTER UPDATE ON mailserver_mailusage BEGIN "
        "UPDATE accounts_mailbox SET used_bytes = MAX(COALESCE(new.bytes, 0), 0), "
        "message_count = MAX(COALESCE(new.messages, 0), 0) "
        "WHERE account_id = (SELECT id FROM accounts_account WHERE email = new.username); END"
    ),
}

# On PostgreSQL Dovecot's write waits at most a moment for a mailbox row the
# console holds locked: the console's usual locks last milliseconds, but
# 비우기 holds the row while Dovecot expunges, and Dovecot's write (behind the
# expunge the console is waiting for) must not wait for that. Past the
# moment the mailbox is left alone -- the console sets its figures itself --
# and the usage row still records Dovecot's, for reconcile_usage. The
# function runs with its owner's rights (the console's role), so the mail
# server's role needs no more than writing its usage rows.
POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION mailserver_usage_to_mailbox() RETURNS trigger AS $$ BEGIN "
    "BEGIN "
    "UPDATE accounts_mailbox SET used_bytes = GREATEST(COALESCE(NEW.bytes, 0), 0), "
    "message_count = GREATEST(COALESCE(NEW.messages, 0), 0) "
    "WHERE account_id = (SELECT id FROM accounts_account WHERE email = NEW.username); "
    "EXCEPTION WHEN lock_not_available THEN NULL; "
    "END; "
    "RETURN NULL; END $$ LANGUAGE plpgsql SECURITY DEFINER "
    "SET search_path FROM CURRENT SET lock_timeout = '200ms'",
    "CREATE TRIGGER mailserver_usage_to_mailbox AFTER INSERT OR UPDATE ON mailserver_mailusage "
    "FOR EACH ROW EXECUTE FUNCTION mailserver_usage_to_mailbox()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS mailserver_usage_to_mailbox ON mailserver_mailusage",
    "DROP FUNCTION IF EXISTS mailserver_usage_to_mailbox()",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            for sql in POSTGRESQL:
                cursor.execute(sql)
        elif vendor == "sqlite":
            # Created by the post_migrate handler, once every migration of
            # this run is done (see mailserver/usage_triggers.py).
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS mailserver_stashed_trigger "
                "(name TEXT PRIMARY KEY, sql TEXT NOT NULL)"
            )
            for name, sql in SQLITE_TRIGGERS.items():
                cursor.execute(
                    "INSERT OR REPLACE INTO mailserver_stashed_trigger (name, sql) VALUES (%s, %s)",
                    [name, sql],
                )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            for sql in POSTGRESQL_DROP:
                cursor.execute(sql)
        elif vendor == "sqlite":
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute("DROP TABLE IF EXISTS mailserver_stashed_trigger")


class Migration(migrations.Migration):
    initial = True

    dependencies = [("accounts", "0002_search_and_listing")]

    operations = [
        migrations.CreateModel(
            name="MailUsage",
            fields=[
                (
                    "username",
                    models.CharField(
                        max_length=320, primary_key=True, serialize=False, verbose_name="user"
                    ),
                ),
                ("bytes", models.BigIntegerField(db_default=0, verbose_name="bytes")),
                ("messages", models.BigIntegerField(db_default=0, verbose_name="messages")),
            ],
            options={
                "verbose_name": "mail server usage",
                "verbose_name_plural": "mail server usage",
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
