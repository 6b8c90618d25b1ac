"""Sessions move to ``accounts.AccountSession``: Django's session table with
the signed-in account in a column, so a signed-in page reads the session,
its account and the account's office in one statement.

The live sessions are moved over (their data unchanged, the account column
set from it when that account still exists), so nobody is signed out by
the upgrade; going back moves them back. Expired ones are not moved, and
``django_session`` is emptied: nothing reads it any more."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

USER_ID_KEY = "_auth_user_id"  # django.contrib.auth.SESSION_KEY
BATCH = 1000


def _batches(rows):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _user_id(data):
    try:
        return int(data[USER_ID_KEY])
    except (KeyError, TypeError, ValueError):
        return None


def forwards(apps, schema_editor):
    # Both stores sign the data with the same salt (it is derived from the
    # class name, SessionStore in both), so the data is copied as it is.
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    AccountSession = apps.get_model("accounts", "AccountSession")
    Account = apps.get_model("accounts", "Account")
    store = SessionStore()
    live = Session.objects.filter(expire_date__gt=timezone.now()).order_by("pk")
    for batch in _batches(live.iterator(chunk_size=2000)):
        wanted = {s.session_key: _user_id(store.decode(s.session_data)) for s in batch}
        existing = set(
            Account.objects.filter(
                pk__in={pk for pk in wanted.values() if pk is not None}
            ).values_list("pk", flat=True)
        )
        AccountSession.objects.bulk_create(
            AccountSession(
                session_key=s.session_key,
                session_data=s.session_data,
                expire_date=s.expire_date,
                account_id=wanted[s.session_key] if wanted[s.session_key] in existing else None,
            )
            for s in batch
        )
    Session.objects.all().delete()


def backwards(apps, schema_editor):
    Session = apps.get_model("sessions", "Session")
    AccountSession = apps.get_model("accounts", "AccountSession")
    live = AccountSession.objects.filter(expire_date__gt=timezone.now()).order_by("pk")
    for batch in _batches(live.iterator(chunk_size=2000)):
        # Whatever was left in the old table under these keys is older.
        Session.objects.filter(session_key__in=[s.session_key for s in batch]).delete()
        Session.objects.bulk_create(
            Session(
                session_key=s.session_key,
                session_data=s.session_data,
                expire_date=s.expire_date,
            )
            for s in batch
        )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0021_listing_orders_cover_flags'),
        ('sessions', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='AccountSession',
            fields=[
                ('session_key', models.CharField(max_length=40, primary_key=True, serialize=False, verbose_name='session key')),
                ('session_data', models.TextField(verbose_name='session data')),
                ('expire_date', models.DateTimeField(db_index=True, verbose_name='expire date')),
                ('account', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'session',
                'verbose_name_plural': 'sessions',
                'abstract': False,
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
