"""Daily usage snapshots: what the report draws its history from.

One row per account per day and one per office per day, taken by
``snapshot_usage`` (the background worker runs it daily). A day is the
office's local date. Taking a day's snapshot again replaces that day's rows
(the primary key and the unique constraint make it an upsert), so the job
can run any number of times.

The per-account table is the big one (an office of 100,000 accounts keeps
18 million rows for 180 days), so it is as narrow as it can be: its key is
(account, day) -- no surrogate id and no index beyond the key and one on
(office, day) for the growth ranking.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Office

# How long history is kept and shown: the longest period of the report.
HISTORY_DAYS = 180


class AccountUsageDay(models.Model):
    pk = models.CompositePrimaryKey("account_id", "day")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(_("day"))
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+", db_index=False)
    used_bytes = models.BigIntegerField(_("usage"))
    message_count = models.IntegerField(_("messages"))

    class Meta:
        indexes = [models.Index(fields=["office", "day"], name="usageday_office_day")]


class OfficeUsageDay(models.Model):
    """The office's totals for a day, and the growth ranking computed when
    the day was taken (``top_growth``: period in days -> up to ten
    ``[account_id, bytes grown]``, largest first), so the report never ranks
    100,000 accounts while an admin waits."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(_("day"))
    used_bytes = models.BigIntegerField(_("usage"))
    message_count = models.BigIntegerField(_("messages"))
    mailboxes = models.IntegerField(_("mailboxes"))
    # The quotas of the office's mailboxes added up that day; NULL when
    # there is no total (an unlimited plan or mailbox). The forecast's
    # target, read from the latest day so the report sums no mailboxes.
    total_quota_bytes = models.BigIntegerField(null=True, blank=True)
    top_growth = models.JSONField(default=dict, blank=True)
    taken_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["office", "day"], name="officeusageday_office_day"),
        ]


class CountrySignInDay(models.Model):
    """Successful POP3/SMTP sign-ins of an office on a day, per country
    ("" when unknown), counted from the access history by the snapshot."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(_("day"))
    country = models.CharField(max_length=2, blank=True)
    sign_ins = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["office", "day", "country"], name="countrysignin_office_day_country"
            ),
        ]
