"""The access log folded (one row per account, UTC hour, protocol, IP and
result) and, on PostgreSQL, partitioned by month; import positions; the
sign-in flags.

The table is rebuilt: the new one is created beside the old, every old row
is folded into it with one INSERT … SELECT … GROUP BY, and the old one is
dropped, so no login is lost (each old row counts once). On PostgreSQL the
new table is ``PARTITION BY RANGE (hour)`` with a partition per month from
the oldest row's month to two months ahead and a DEFAULT partition that
catches anything outside them (accounts/access_partitions.py creates later
months ahead and moves strays out of the default). PostgreSQL wants the
partition key in every unique key: the primary key is ``(id, hour)`` and
the fold key holds ``hour``. The SQL is written out as it ran.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

POSTGRESQL = [
    "ALTER TABLE accounts_accesslog RENAME TO accounts_accesslog_old",
    "ALTER INDEX accounts_accesslog_pkey RENAME TO accounts_accesslog_old_pkey",
    """
    CREATE TABLE accounts_accesslog (
        id bigint NOT NULL DEFAULT nextval('accounts_accesslog_fold_id_seq'),
        protocol varchar(4) NOT NULL,
        hour timestamptz NOT NULL,
        ip inet NOT NULL,
        country varchar(2) NOT NULL,
        succeeded boolean NOT NULL,
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL,
        count integer NOT NULL CHECK (count >= 0),
        flag varchar(12) NOT NULL,
        account_id bigint NOT NULL
            REFERENCES accounts_account (id) DEFERRABLE INITIALLY DEFERRED,
        office_id bigint NOT NULL
            REFERENCES accounts_office (id) DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT accounts_accesslog_pkey PRIMARY KEY (id, hour),
        CONSTRAINT access_log_fold UNIQUE (account_id, hour, protocol, ip, succeeded)
    ) PARTITION BY RANGE (hour)
    """,
    "CREATE INDEX access_log_office_hour ON accounts_accesslog (office_id, hour)",
    "CREATE TABLE accounts_accesslog_default PARTITION OF accounts_accesslog DEFAULT",
    # A partition per month (UTC) from the oldest row to two months ahead.
    """
    DO $$
    DECLARE
        month timestamptz;
        last_month timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC')
            AT TIME ZONE 'UTC' + interval '2 months';
    BEGIN
        SELECT COALESCE(date_trunc('month', MIN(at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                        date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
          INTO month FROM accounts_accesslog_old;
        WHILE month <= last_month LOOP
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF accounts_accesslog FOR VALUES FROM (%L) TO (%L)',
                'accounts_accesslog_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM'),
                month, month + interval '1 month');
            month := month + interval '1 month';
        END LOOP;
    END $$
    """,
    """
    INSERT INTO accounts_accesslog (office_id, account_id, protocol, hour, ip, country,
                                    succeeded, first_at, last_at, count, flag)
    SELECT office_id, account_id, protocol,
           date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           ip, MAX(country), succeeded, MIN(at), MAX(at), COUNT(*), ''
      FROM accounts_accesslog_old
     GROUP BY office_id, account_id, protocol,
              date_trunc('hour', at AT TIME ZONE 'UTC'), ip, succeeded
    """,
    "DROP TABLE accounts_accesslog_old",
    "ALTER SEQUENCE accounts_accesslog_fold_id_seq OWNED BY accounts_accesslog.id",
    # Each mailbox's countries of the last 90 days (the new-country flag).
    "ALTER TABLE accounts_mailbox ADD COLUMN access_countries jsonb NULL",
    """
    UPDATE accounts_mailbox AS m SET access_countries = s.countries
      FROM (SELECT account_id,
                   jsonb_object_agg(country, to_char(newest AT TIME ZONE 'UTC', 'YYYY-MM-DD'))
                     AS countries
              FROM (SELECT account_id, country, MAX(last_at) AS newest
                      FROM accounts_accesslog
                     WHERE succeeded AND country <> '' AND hour >= now() - interval '90 days'
                     GROUP BY account_id, country) AS c
             GROUP BY account_id) AS s
     WHERE m.account_id = s.account_id
    """,
    "ANALYZE accounts_accesslog",
]

SQLITE = [
    """
    CREATE TABLE "accounts_accesslog_new" (
        "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
        "protocol" varchar(4) NOT NULL,
        "hour" datetime NOT NULL,
        "ip" char(39) NOT NULL,
        "country" varchar(2) NOT NULL,
        "succeeded" bool NOT NULL,
        "first_at" datetime NOT NULL,
        "last_at" datetime NOT NULL,
        "count" integer unsigned NOT NULL CHECK ("count" >= 0),
        "flag" varchar(12) NOT NULL,
        "account_id" bigint NOT NULL
            REFERENCES "accounts_account" ("id") DEFERRABLE INITIALLY DEFERRED,
        "office_id" bigint NOT NULL
            REFERENCES "accounts_office" ("id") DEFERRABLE INITIALLY DEFERRED
    )
    """,
    """
    INSERT INTO "accounts_accesslog_new" ("office_id", "account_id", "protocol", "hour", "ip",
        "country", "succeeded", "first_at", "last_at", "count", "flag")
    SELECT "office_id", "account_id", "protocol", strftime('%Y-%m-%d %H:00:00', "at"),
           "ip", MAX("country"), "succeeded", MIN("at"), MAX("at"), COUNT(*), ''
      FROM "accounts_accesslog"
     GROUP BY "office_id", "account_id", "protocol", strftime('%Y-%m-%d %H:00:00', "at"),
              "ip", "succeeded"
    """,
    'DROP TABLE "accounts_accesslog"',
    'ALTER TABLE "accounts_accesslog_new" RENAME TO "accounts_accesslog"',
    'CREATE UNIQUE INDEX "access_log_fold" ON "accounts_accesslog" '
    '("account_id", "hour", "protocol", "ip", "succeeded")',
    'CREATE INDEX "access_log_office_hour" ON "accounts_accesslog" ("office_id", "hour")',
    # Each mailbox's countries of the last 90 days (the new-country flag).
    # (No JSON_VALID check: SQLite could not drop the column again.)
    'ALTER TABLE "accounts_mailbox" ADD COLUMN "access_countries" text NULL',
    """
    UPDATE "accounts_mailbox" SET "access_countries" = (
        SELECT json_group_object("country", "newest") FROM (
            SELECT "country", strftime('%Y-%m-%d', MAX("last_at")) AS "newest"
              FROM "accounts_accesslog" AS l
             WHERE l."account_id" = "accounts_mailbox"."account_id" AND l."succeeded"
               AND l."country" <> '' AND l."hour" >= datetime('now', '-90 days')
             GROUP BY "country"))
     WHERE EXISTS (SELECT 1 FROM "accounts_accesslog" AS l
                    WHERE l."account_id" = "accounts_mailbox"."account_id" AND l."succeeded"
                      AND l."country" <> '' AND l."hour" >= datetime('now', '-90 days'))
    """,
]


# Back to one row per login: each folded row becomes one row at its last
# login (how many logins it folded is lost).
POSTGRESQL_BACK = [
    """
    CREATE TABLE accounts_accesslog_old (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        protocol varchar(4) NOT NULL,
        at timestamptz NOT NULL,
        ip inet NOT NULL,
        country varchar(2) NOT NULL,
        succeeded boolean NOT NULL,
        session_id varchar(64) NOT NULL,
        account_id bigint NOT NULL
            REFERENCES accounts_account (id) DEFERRABLE INITIALLY DEFERRED,
        office_id bigint NOT NULL
            REFERENCES accounts_office (id) DEFERRABLE INITIALLY DEFERRED
    )
    """,
    """
    INSERT INTO accounts_accesslog_old (protocol, at, ip, country, succeeded, session_id,
                                        account_id, office_id)
    SELECT protocol, last_at, ip, country, succeeded, 'folded-' || id, account_id, office_id
      FROM accounts_accesslog
    """,
    "DROP TABLE accounts_accesslog",
    "ALTER TABLE accounts_accesslog_old RENAME TO accounts_accesslog",
    "ALTER INDEX accounts_accesslog_old_pkey RENAME TO accounts_accesslog_pkey",
    "ALTER TABLE accounts_mailbox DROP COLUMN access_countries",
    "ALTER TABLE accounts_accesslog ADD CONSTRAINT access_log_unique_event "
    "UNIQUE (account_id, protocol, at, ip, succeeded, session_id)",
    "CREATE INDEX access_log_account_at ON accounts_accesslog (account_id, at DESC)",
    "CREATE INDEX access_log_office_at ON accounts_accesslog (office_id, at)",
]

SQLITE_BACK = [
    """
    CREATE TABLE "accounts_accesslog_old" (
        "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
        "protocol" varchar(4) NOT NULL,
        "at" datetime NOT NULL,
        "ip" char(39) NOT NULL,
        "country" varchar(2) NOT NULL,
        "succeeded" bool NOT NULL,
        "session_id" varchar(64) NOT NULL,
        "account_id" bigint NOT NULL
            REFERENCES "accounts_account" ("id") DEFERRABLE INITIALLY DEFERRED,
        "office_id" bigint NOT NULL
            REFERENCES "accounts_office" ("id") DEFERRABLE INITIALLY DEFERRED
    )
    """,
    """
    INSERT INTO "accounts_accesslog_old" ("protocol", "at", "ip", "country", "succeeded",
        "session_id", "account_id", "office_id")
    SELECT "protocol", "last_at", "ip", "country", "succeeded", 'folded-' || "id",
           "account_id", "office_id" FROM "accounts_accesslog"
    """,
    'DROP TABLE "accounts_accesslog"',
    'ALTER TABLE "accounts_accesslog_old" RENAME TO "accounts_accesslog"',
    'CREATE UNIQUE INDEX "access_log_unique_event" ON "accounts_accesslog" '
    '("account_id", "protocol", "at", "ip", "succeeded", "session_id")',
    'CREATE INDEX "access_log_account_at" ON "accounts_accesslog" ("account_id", "at" DESC)',
    'CREATE INDEX "access_log_office_at" ON "accounts_accesslog" ("office_id", "at")',
    'ALTER TABLE "accounts_mailbox" DROP COLUMN "access_countries"',
]


def unfold_access_log(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = POSTGRESQL_BACK if vendor == "postgresql" else SQLITE_BACK
    for statement in statements:
        schema_editor.execute(statement, params=None)


def fold_access_log(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE accounts_accesslog_fold_id_seq")
        statements = POSTGRESQL
    elif vendor == "sqlite":
        statements = SQLITE
    else:
        raise NotImplementedError(f"no access-log migration for {vendor}")
    for statement in statements:
        schema_editor.execute(statement, params=None)


ACCESS_FLAGS = [
    ("new_country", "New country"),
    ("foreign", "Abroad"),
    ("burst", "Failed sign-in burst"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_auditevent_actions_order"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(fold_access_log, unfold_access_log)],
            state_operations=[
                migrations.RemoveConstraint(model_name="accesslog", name="access_log_unique_event"),
                migrations.RemoveIndex(model_name="accesslog", name="access_log_account_at"),
                migrations.RemoveIndex(model_name="accesslog", name="access_log_office_at"),
                migrations.RemoveField(model_name="accesslog", name="at"),
                migrations.RemoveField(model_name="accesslog", name="session_id"),
                migrations.AddField(
                    model_name="accesslog",
                    name="hour",
                    field=models.DateTimeField(default=django.utils.timezone.now),
                    preserve_default=False,
                ),
                migrations.AddField(
                    model_name="accesslog",
                    name="first_at",
                    field=models.DateTimeField(default=django.utils.timezone.now),
                    preserve_default=False,
                ),
                migrations.AddField(
                    model_name="accesslog",
                    name="last_at",
                    field=models.DateTimeField(default=django.utils.timezone.now),
                    preserve_default=False,
                ),
                migrations.AddField(
                    model_name="accesslog",
                    name="count",
                    field=models.PositiveIntegerField(default=1),
                ),
                migrations.AddField(
                    model_name="accesslog",
                    name="flag",
                    field=models.CharField(blank=True, choices=ACCESS_FLAGS, max_length=12),
                ),
                migrations.AddIndex(
                    model_name="accesslog",
                    index=models.Index(fields=["office", "hour"], name="access_log_office_hour"),
                ),
                migrations.AddConstraint(
                    model_name="accesslog",
                    constraint=models.UniqueConstraint(
                        fields=("account", "hour", "protocol", "ip", "succeeded"),
                        name="access_log_fold",
                    ),
                ),
                # (The new table has no index of the foreign keys' own.)
                migrations.AlterField(
                    model_name="accesslog",
                    name="office",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.office",
                    ),
                ),
                migrations.AlterField(
                    model_name="accesslog",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="access_logs",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AddField(
                    model_name="mailbox",
                    name="access_countries",
                    field=models.JSONField(blank=True, null=True),
                ),
            ],
        ),
        migrations.CreateModel(
            name="AccessImportPosition",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("source", models.CharField(max_length=80)),
                ("path", models.CharField(blank=True, max_length=1024)),
                ("offset", models.BigIntegerField(default=0)),
                ("last_at", models.DateTimeField(blank=True, null=True)),
                ("recent_hashes", models.JSONField(blank=True, default=list)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "office",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.office",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("office", "source"), name="access_position_source"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="mailbox",
            name="access_flag",
            field=models.CharField(blank=True, max_length=12, null=True),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="access_flag_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="mailbox",
            index=models.Index(
                fields=["office", "access_flag_at"], name="mailbox_office_access_flag"
            ),
        ),
        migrations.AddField(
            model_name="office",
            name="home_countries",
            field=models.CharField(
                blank=True, max_length=64, null=True, verbose_name="home countries"
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("login", "Admin login"),
                    ("login_failed", "Failed admin login"),
                    ("login_locked", "Login locked out"),
                    ("two_factor_enabled", "Two-factor sign-in set up"),
                    ("two_factor_disabled", "Two-factor sign-in turned off"),
                    ("two_factor_reset", "Two-factor sign-in reset"),
                    ("two_factor_codes", "New recovery codes"),
                    ("two_factor_policy", "Two-factor requirement changed"),
                    ("logout", "Logout"),
                    ("mailbox_empty", "Mailbox emptied"),
                    ("subaccount_add", "Sub-account added"),
                    ("subaccount_delete", "Sub-account deleted"),
                    ("account_update", "User changed"),
                    ("account_create", "User added"),
                    ("bulk_update", "Bulk change"),
                    ("bulk_import", "Bulk registration"),
                    ("roster_export", "Mail usage list downloaded"),
                    ("audit_export", "Audit log downloaded"),
                    ("role_change", "Admin role changed"),
                    ("password_reset", "Password reset"),
                    ("mail_password", "Mail-only password changed"),
                    ("quota_change", "Quota changed"),
                    ("office_settings", "Office settings changed"),
                    ("account_delete", "User deleted"),
                    ("account_restore", "User restored"),
                    ("account_purge", "Deleted user purged"),
                    ("access_flagged", "Sign-in flagged"),
                ],
                max_length=32,
            ),
        ),
    ]
