# The daily usage snapshots of the report.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0009_auditevent_actions_order'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AccountUsageDay',
            fields=[
                ('pk', models.CompositePrimaryKey('account_id', 'day', blank=True, editable=False, primary_key=True, serialize=False)),
                ('day', models.DateField(verbose_name='day')),
                ('used_bytes', models.BigIntegerField(verbose_name='usage')),
                ('message_count', models.IntegerField(verbose_name='messages')),
                ('account', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('office', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.office')),
            ],
            options={
                'indexes': [models.Index(fields=['office', 'day'], name='usageday_office_day')],
            },
        ),
        migrations.CreateModel(
            name='CountrySignInDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='day')),
                ('country', models.CharField(blank=True, max_length=2)),
                ('sign_ins', models.IntegerField()),
                ('office', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.office')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('office', 'day', 'country'), name='countrysignin_office_day_country')],
            },
        ),
        migrations.CreateModel(
            name='OfficeUsageDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='day')),
                ('used_bytes', models.BigIntegerField(verbose_name='usage')),
                ('message_count', models.BigIntegerField(verbose_name='messages')),
                ('mailboxes', models.IntegerField(verbose_name='mailboxes')),
                ('total_quota_bytes', models.BigIntegerField(blank=True, null=True)),
                ('top_growth', models.JSONField(blank=True, default=dict)),
                ('taken_at', models.DateTimeField()),
                ('office', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.office')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('office', 'day'), name='officeusageday_office_day')],
            },
        ),
    ]
