"""The list's covering indexes (its name and ID orders) carry the newest
flagged sign-in too, so the first page of the flagged list is an index-only
walk of the read model, like every other filter's: it walked the accounts
in order and looked up each one's mailbox to find the flagged ones (645
lookups for a page of 50 at 10,000 accounts)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0020_session_backend'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='maillisting',
            name='listing_office_name',
        ),
        migrations.RemoveIndex(
            model_name='maillisting',
            name='listing_office_login',
        ),
        migrations.AddIndex(
            model_name='maillisting',
            index=models.Index(fields=['office', 'name', 'login_id', 'account', 'status', 'subaccount_count', 'access_flag_at'], name='listing_office_name'),
        ),
        migrations.AddIndex(
            model_name='maillisting',
            index=models.Index(fields=['office', 'login_id', 'account', 'status', 'subaccount_count', 'access_flag_at'], name='listing_office_login'),
        ),
    ]
