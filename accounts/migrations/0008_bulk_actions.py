"""Bulk actions: the audit log's new actions (user added, bulk change,
bulk registration) and the background bulk job.

The choices change runs no SQL on either database, so no table with
triggers is rebuilt; the job table is new and has none.
"""

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_auditevent_actions_merged'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('login', 'Admin login'), ('login_failed', 'Failed admin login'), ('login_locked', 'Login locked out'), ('logout', 'Logout'), ('mailbox_empty', 'Mailbox emptied'), ('subaccount_add', 'Sub-account added'), ('subaccount_delete', 'Sub-account deleted'), ('account_update', 'User changed'), ('account_create', 'User added'), ('bulk_update', 'Bulk change'), ('bulk_import', 'Bulk registration'), ('roster_export', 'Mail usage list downloaded'), ('audit_export', 'Audit log downloaded')], max_length=32),
        ),
        migrations.CreateModel(
            name='BulkJob',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('action', models.CharField(max_length=16)),
                ('quota_bytes', models.BigIntegerField(blank=True, null=True)),
                ('account_ids', models.JSONField(default=list)),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('params', models.JSONField(blank=True, default=dict)),
                ('total', models.PositiveIntegerField(default=0)),
                ('done', models.PositiveIntegerField(default=0)),
                ('changed', models.PositiveIntegerField(default=0)),
                ('unchanged', models.PositiveIntegerField(default=0)),
                ('skipped', models.JSONField(blank=True, default=list)),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='queued', max_length=10)),
                ('error', models.TextField(blank=True)),
                ('created', models.DateTimeField(default=django.utils.timezone.now)),
                ('finished', models.DateTimeField(blank=True, null=True)),
                ('office', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.office')),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('summary', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.auditevent')),
            ],
            options={
                'indexes': [models.Index(fields=['office', 'created'], name='bulkjob_office_created')],
                'constraints': [models.CheckConstraint(condition=models.Q(('done__lte', models.F('total'))), name='bulkjob_done_le_total')],
            },
        ),
    ]
