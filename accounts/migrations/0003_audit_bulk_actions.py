"""The audit log's new actions (user added, bulk change, bulk registration).

Only the field's choices change: Django runs no SQL for it on either
database, so no table is rebuilt and the triggers of 0002 stay in place.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_search_and_listing'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('login', 'Admin login'), ('login_failed', 'Failed admin login'), ('login_locked', 'Login locked out'), ('logout', 'Logout'), ('mailbox_empty', 'Mailbox emptied'), ('subaccount_add', 'Sub-account added'), ('subaccount_delete', 'Sub-account deleted'), ('account_update', 'User changed'), ('account_create', 'User added'), ('bulk_update', 'Bulk change'), ('bulk_import', 'Bulk registration'), ('roster_export', 'Mail usage list downloaded'), ('audit_export', 'Audit log downloaded')], max_length=32),
        ),
    ]
