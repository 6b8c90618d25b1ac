"""The audit log's actor and target indexes hold only events with an account
(see AuditEvent.Meta): the filters' label arm can no longer be read through
their NULLs. Plain DROP and CREATE INDEX on both databases."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0016_listing_trigrams'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_office_actor',
        ),
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_office_target',
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(models.F('office'), models.F('actor'), models.OrderBy(models.F('at'), descending=True), condition=models.Q(('actor__isnull', False)), name='audit_office_actor'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(models.F('office'), models.F('target'), models.OrderBy(models.F('at'), descending=True), condition=models.Q(('target__isnull', False)), name='audit_office_target'),
        ),
    ]
