"""The audit log's label-only indexes also hold the label, so the actor and
target filters match the labels of events without an account (failed
logins' tried IDs, purged users) on index entries instead of reading each
event. Plain DROP and CREATE INDEX on both databases."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0018_listing_tally"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_actor_label_only",
        ),
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_target_label_only",
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                models.F("office"),
                models.OrderBy(models.F("at"), descending=True),
                models.F("actor_label"),
                condition=models.Q(
                    ("actor__isnull", True), models.Q(("actor_label", ""), _negated=True)
                ),
                name="audit_actor_label_only",
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                models.F("office"),
                models.OrderBy(models.F("at"), descending=True),
                models.F("target_label"),
                condition=models.Q(
                    ("target__isnull", True), models.Q(("target_label", ""), _negated=True)
                ),
                name="audit_target_label_only",
            ),
        ),
    ]
