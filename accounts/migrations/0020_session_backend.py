"""Sessions signed in before the accounts got their own backend name
``accounts.backends.AccountBackend`` (Django's ModelBackend, loading the
account with its office) are moved over to it, so that nobody is signed
out by the upgrade: Django accepts a session only if the backend it names
is still configured."""

from django.db import migrations
from django.utils import timezone

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ACCOUNT_BACKEND = "accounts.backends.AccountBackend"
BACKEND_KEY = "_auth_user_backend"  # django.contrib.auth.BACKEND_SESSION_KEY


def _rename(apps, old: str, new: str) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    changed = []
    live = Session.objects.filter(expire_date__gt=timezone.now()).order_by("pk")
    for session in live.iterator(chunk_size=2000):
        data = store.decode(session.session_data)
        if data.get(BACKEND_KEY) == old:
            data[BACKEND_KEY] = new
            session.session_data = store.encode(data)
            changed.append(session)
        if len(changed) >= 1000:
            Session.objects.bulk_update(changed, ["session_data"])
            changed = []
    Session.objects.bulk_update(changed, ["session_data"])


def forwards(apps, schema_editor):
    _rename(apps, MODEL_BACKEND, ACCOUNT_BACKEND)


def backwards(apps, schema_editor):
    _rename(apps, ACCOUNT_BACKEND, MODEL_BACKEND)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0019_audit_label_in_index"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
