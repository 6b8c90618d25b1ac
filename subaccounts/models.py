from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SubAccount(models.Model):
    """An extra address of a user account, delivering into its own folder
    inside the owner's inbox and sharing the owner's quota.

    At most five, held by the database: a sub-account takes one of the
    owner's five numbered slots, and ``(owner, slot)`` is unique while the slot
    is checked to lie in 1..5 -- a sixth row has nowhere to go, whatever
    concurrent requests do.
    """

    office = models.ForeignKey("accounts.Office", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="subaccounts"
    )
    slot = models.PositiveSmallIntegerField()
    local_part = models.CharField(_("sub-account ID"), max_length=64)
    folder = models.OneToOneField(
        "accounts.Folder", on_delete=models.PROTECT, related_name="subaccount"
    )
    # The address registry row this sub-account occupies. The service deletes
    # the sub-account, then its registration; the database's foreign key
    # refuses the other order (DO_NOTHING spares a look-up query).
    address = models.OneToOneField(
        "accounts.Address", on_delete=models.DO_NOTHING, related_name="subaccount"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sub-account")
        verbose_name_plural = _("sub-accounts")
        ordering = ["owner", "slot"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slot__gte=1) & Q(slot__lte=settings.MAILADMIN_SUBACCOUNT_LIMIT),
                name="subaccount_slot_range",
            ),
            models.UniqueConstraint(fields=["owner", "slot"], name="subaccount_owner_slot"),
            models.UniqueConstraint(
                "office", Lower("local_part"), name="subaccount_unique_local_part"
            ),
            models.CheckConstraint(
                condition=Q(local_part=Lower("local_part")), name="subaccount_local_part_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.local_part

    @property
    def full_address(self) -> str:
        return f"{self.local_part}@{self.owner.office.domain}"
