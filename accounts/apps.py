from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _

# The last migration of the schema history that was replaced by fresh
# initial migrations when the sub-account app stopped being a dependency of
# this one. A database that recorded it has the old tables.
PRE_RESET_MIGRATION = ("accounts", "0009_sqlite_listing_grams")


class PreResetDatabase(RuntimeError):
    pass


def refuse_pre_reset_database(using: str = "default", **kwargs) -> None:
    """pre_migrate: a database built before the migration reset cannot be
    migrated forward (the new initial migrations would meet its tables);
    say so instead of failing halfway."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[using])
    if not recorder.has_table():
        return
    if recorder.migration_qs.filter(
        app=PRE_RESET_MIGRATION[0], name=PRE_RESET_MIGRATION[1]
    ).exists():
        raise PreResetDatabase(
            "This database was created by a pre-release schema of mailadmin whose migrations "
            "were replaced. Create a new database (for the demo: delete db.sqlite3 and run "
            "`make run` again)."
        )


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and mail")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.search_index import check_sqlite_triggers, refresh_sqlite_statistics
        from mailadmin.middleware import start_idle_clock

        user_logged_in.connect(start_idle_clock, dispatch_uid="mailadmin_start_idle_clock")
        pre_migrate.connect(refuse_pre_reset_database, sender=self)
        post_migrate.connect(check_sqlite_triggers, sender=self)
        post_migrate.connect(refresh_sqlite_statistics, sender=self)
