"""The office, its accounts and their mail.

Every tenant table carries ``office`` directly, even where a join could reach
it: every query is scoped by it (one office never sees another's data) and it is the distribution key if
the data ever has to be spread over several database servers.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models import Case, F, Q, When
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access_history import access_window_start, fold_hour, recent_access

# The mail-only password hash Dovecot verifies (accounts/mailserver.py).
MAIL_PASSWORD_HASH_PREFIX = "argon2$argon2id$"

RESERVED_LOCAL_PARTS = frozenset(
    {"postmaster", "abuse", "mailer-daemon", "root", "hostmaster", "webmaster", "noreply"}
)


class Office(models.Model):
    class Plan(models.TextChoices):
        STANDARD = "standard", _("Standard")
        UNLIMITED = "unlimited", _("Unlimited")

    domain = models.CharField(_("domain"), max_length=253, unique=True)
    name = models.CharField(_("office name"), max_length=200)
    plan = models.CharField(_("plan"), max_length=20, choices=Plan.choices, default=Plan.STANDARD)
    default_quota_bytes = models.BigIntegerField(
        _("default quota"), null=True, blank=True, help_text=_("Empty means unlimited.")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Seoul")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Every admin must sign in with a second factor (those without one are
    # sent to set it up after the password).
    require_two_factor = models.BooleanField(_("two-factor sign-in required"), default=False)
    # ISO 3166 codes, comma-separated, of the countries a sign-in is expected
    # from; empty (NULL) means the office's own country, the one of its time
    # zone. A successful POP3/SMTP sign-in from elsewhere is flagged
    # (accounts/access_flags.py). Nullable: a plain ALTER TABLE on SQLite.
    home_countries = models.CharField(_("home countries"), max_length=64, null=True, blank=True)

    class Meta:
        verbose_name = _("office")
        verbose_name_plural = _("offices")
        constraints = [
            models.CheckConstraint(
                condition=Q(domain=Lower("domain")), name="office_domain_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.lower()
        super().save(*args, **kwargs)

    def home_country_codes(self) -> frozenset[str]:
        """The countries sign-ins are expected from: the setting, or the
        country of the office's time zone."""
        from accounts.geo import country_of_time_zone, parse_country_codes

        codes = parse_country_codes(self.home_countries or "")
        if codes:
            return frozenset(codes)
        own = country_of_time_zone(self.time_zone)
        return frozenset([own] if own else [])


class AccountManager(BaseUserManager):
    # Migrations use plain managers: a migration must not import this module.
    use_in_migrations = False

    def create_account(
        self,
        *,
        office: Office,
        login_id: str,
        name: str,
        password: str | None = None,
        **extra,
    ) -> Account:
        """Create an account and register its address (every ID occupies one)."""
        login_id = login_id.lower()
        account = self.model(
            office=office,
            login_id=login_id,
            email=f"{login_id}@{office.domain}",
            name=name,
            **extra,
        )
        if password:
            account.set_password(password)
        else:
            account.set_unusable_password()
        account.save(using=self._db)
        Address.objects.create(office=office, local_part=login_id, account=account)
        return account


class SubaccountRefusal(models.TextChoices):
    """Why an account cannot have sub-accounts at all: the value is the code
    the service's error carries, the label the one sentence every screen
    shows (the pane's and the list's disabled [부계정 설정], the dialog)."""

    NOT_USER = "not_user", _("Group mail and shared mail cannot have sub-accounts.")
    NO_MAILBOX = "no_mailbox", _("Only accounts that use mail can have sub-accounts.")


class Account(AbstractBaseUser):
    """A user, group mail or shared mail address of one office.

    Sign-in is by office + ID; the unique primary address is the
    ``USERNAME_FIELD`` so Django's own auth machinery stays unchanged.
    """

    class Kind(models.TextChoices):
        USER = "user", _("User")
        GROUP = "group", _("Group mail")
        SHARED = "shared", _("Shared mail")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    class Role(models.TextChoices):
        USER = "user", _("User")
        SUPER_ADMIN = "super_admin", _("Super admin")
        VIEWER = "viewer", _("View-only admin")

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="accounts")
    login_id = models.CharField(_("ID"), max_length=64)
    email = models.CharField(_("email"), max_length=320, unique=True)
    name = models.CharField(_("name"), max_length=100)
    department = models.CharField(_("department"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.USER)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    # What the account may do in the console. A role, not a flag, so a
    # view-only administrator can be added without another column.
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.USER)
    # Kept by the sub-account services in the same transaction as the
    # SubAccount rows; the list filters on it without a join or a COUNT.
    subaccount_count = models.PositiveSmallIntegerField(_("sub-accounts"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # The language picked with the switch while signed in ("" = never picked:
    # Korean); applied again at every sign-in, on any browser.
    language = models.CharField(
        _("language"), max_length=8, blank=True, default="", choices=settings.LANGUAGES
    )

    # Set when an admin reset the password with "must change at next sign-in":
    # the web sign-in then asks for a new password before anything else.
    # (A nullable timestamp rather than a flag: adding it is a plain
    # ALTER TABLE on SQLite, and it tells when the reset happened.)
    password_change_required_at = models.DateTimeField(null=True, blank=True)
    # Deleted by an admin (삭제): nothing works for the account any more, but
    # every row is kept, untouched, until it is restored or purged.
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True)

    objects = AccountManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(fields=["office", "login_id"], name="account_office_login_id"),
            models.CheckConstraint(
                condition=Q(login_id=Lower("login_id")), name="account_login_id_lowercase"
            ),
            models.CheckConstraint(
                condition=Q(subaccount_count__gte=0)
                & Q(subaccount_count__lte=settings.MAILADMIN_SUBACCOUNT_LIMIT),
                name="account_subaccount_count_range",
            ),
        ]
        indexes = [
            models.Index(fields=["office", "name", "login_id", "id"], name="account_office_name"),
            # 사용자 관리's order over the listed (not deleted) accounts: any
            # page's keys are an index-only walk.
            models.Index(
                fields=["office", "name", "login_id", "id"],
                condition=Q(deleted_at__isnull=True),
                name="account_listed_name",
            ),
            models.Index(
                fields=["office", "status", "name", "login_id", "id"], name="account_office_status"
            ),
            # Status included: the list's two filters count from this index alone.
            models.Index(
                fields=["office", "subaccount_count", "status"], name="account_office_subcount"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.login_id})"

    @property
    def is_active(self) -> bool:  # used by Django's ModelBackend
        return (
            self.status == self.Status.ACTIVE
            and self.kind == self.Kind.USER
            and self.deleted_at is None
        )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def must_change_password(self) -> bool:
        return self.password_change_required_at is not None

    @property
    def is_group_or_shared(self) -> bool:
        return self.kind in (self.Kind.GROUP, self.Kind.SHARED)

    def has_mailbox(self) -> bool:
        return hasattr(self, "mailbox")

    @property
    def is_office_admin(self) -> bool:
        """A super admin of its office: may use the management console."""
        return self.role == self.Role.SUPER_ADMIN

    def subaccount_refusal(self) -> SubaccountRefusal | None:
        """Why this account cannot have sub-accounts, or None when it can.

        A sub-account is a second address delivering into a folder of one
        person's mailbox, so only a user account (not group or shared mail,
        which already are addresses several people read) that uses mail
        qualifies. Reads the mailbox relation: load it with the account
        (``select_related("mailbox")``) to keep this free of queries.
        """
        if self.kind != self.Kind.USER:
            return SubaccountRefusal.NOT_USER
        if not self.has_mailbox():
            return SubaccountRefusal.NO_MAILBOX
        return None

    def can_have_subaccounts(self) -> bool:
        return self.subaccount_refusal() is None

    def subaccounts_remaining(self) -> int:
        return max(0, settings.MAILADMIN_SUBACCOUNT_LIMIT - self.subaccount_count)


class AccountSession(AbstractBaseSession):
    """A browser's session (Django's database session, the engine in
    ``accounts/sessions.py``) with the account signed in on it in a column
    of its own: the session, the account and its office are read in one
    statement on every signed-in page instead of one each.

    The column follows the session's data (set on every save from the
    signed-in account's id, empty when nobody is signed in); deleting an
    account deletes its sessions."""

    account = models.ForeignKey(
        Account, null=True, on_delete=models.CASCADE, db_index=True, related_name="+"
    )

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore


class Mailbox(models.Model):
    """The mail store of one account (only accounts that use mail have one).

    ``used_bytes`` and ``message_count`` are counters kept in the same
    transaction as every message insert, delete and move; the
    ``last_access_*`` fields mirror the newest successful POP3/SMTP login so
    that the list never reads the access log.
    """

    class Protocol(models.TextChoices):
        POP3 = "pop3", "POP3"
        SMTP = "smtp", "SMTP"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="mailbox")
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="mailboxes")
    quota_bytes = models.BigIntegerField(_("quota"), null=True, blank=True)
    used_bytes = models.BigIntegerField(_("usage"), default=0)
    message_count = models.IntegerField(_("messages"), default=0)
    # Share of quota in basis points (1/100 of a percent); NULL when unlimited.
    usage_share = models.GeneratedField(
        expression=Case(
            When(quota_bytes__gt=0, then=F("used_bytes") * 10000 / F("quota_bytes")),
            default=None,
        ),
        output_field=models.BigIntegerField(null=True),
        db_persist=True,
    )
    pop3_enabled = models.BooleanField(_("POP3"), default=True)
    smtp_enabled = models.BooleanField(_("SMTP"), default=True)
    mail_password = models.CharField(_("mail-only password"), max_length=128, blank=True)
    last_access_at = models.DateTimeField(_("last access"), null=True, blank=True)
    last_access_protocol = models.CharField(max_length=4, choices=Protocol.choices, blank=True)
    last_access_ip = models.GenericIPAddressField(null=True, blank=True)
    last_access_country = models.CharField(max_length=2, blank=True)
    # The newest flagged sign-in (new country, abroad, burst of failures;
    # accounts/access_flags.py): the list's badge and its access=flagged
    # filter read these. Nullable so adding them is a plain ALTER TABLE on
    # SQLite (a rebuild would drop the listing triggers).
    access_flag = models.CharField(max_length=12, null=True, blank=True)
    access_flag_at = models.DateTimeField(null=True, blank=True)
    # The countries of its successful sign-ins in the last 90 days, each
    # with the (UTC) day of the newest: {"KR": "2026-12-01"}. What the
    # new-country flag asks, kept by the importer, so that no import has to
    # read an account's history (scattered over the log's pages).
    access_countries = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        constraints = [
            models.CheckConstraint(condition=Q(used_bytes__gte=0), name="mailbox_used_nonnegative"),
            models.CheckConstraint(
                condition=Q(message_count__gte=0), name="mailbox_count_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(quota_bytes__isnull=True) | Q(quota_bytes__gt=0),
                name="mailbox_quota_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["office", "used_bytes"], name="mailbox_office_used"),
            models.Index(fields=["office", "usage_share"], name="mailbox_office_share"),
            models.Index(fields=["office", "last_access_at"], name="mailbox_office_last_access"),
            models.Index(fields=["office", "access_flag_at"], name="mailbox_office_access_flag"),
        ]

    def __str__(self) -> str:
        return f"mailbox of {self.account_id}"

    @property
    def has_mail_password(self) -> bool:
        return bool(self.mail_password)

    @property
    def mail_password_needs_reset(self) -> bool:
        """A mail-only password stored in a hash the mail server cannot
        check (only Argon2id is handed to Dovecot): POP3 and SMTP refuse
        it, so it has to be set again."""
        return bool(self.mail_password) and not self.mail_password.startswith(
            MAIL_PASSWORD_HASH_PREFIX
        )

    @property
    def share_percent(self) -> float | None:
        if not self.quota_bytes:
            return None
        return self.used_bytes * 100 / self.quota_bytes

    def last_access_within_window(self, now=None):
        """The denormalised last access if it lies inside the access window."""
        return recent_access(self.last_access_at, access_window_start(self.office.time_zone, now))


class MailListing(models.Model):
    """The usage list's read model: one narrow row per account that uses
    mail, with the columns the list filters and searches on.

    Counting the list through Account needs a join to Mailbox for every
    candidate row ("uses mail"); here that is already decided, so the
    filtered count is a scan of one narrow table or an index range. Rows are
    written by database triggers (migrations 0002 and 0013; on SQLite their
    presence is checked after every migrate by :mod:`accounts.search_index`):
    a mailbox insert adds the row, a mailbox delete removes it, an account
    change or a new flagged sign-in on the mailbox updates it. Besides them
    only deleting and restoring a user writes it
    (:mod:`accounts.account_services`).
    """

    account = models.OneToOneField(
        Account,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    office = models.ForeignKey(
        Office, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    name = models.CharField(max_length=100)
    login_id = models.CharField(max_length=64)
    status = models.CharField(max_length=10)
    subaccount_count = models.PositiveSmallIntegerField()
    # The mailbox's newest flagged sign-in (Mailbox.access_flag_at), copied
    # by the mailbox's triggers: the access=flagged filter counts here, an
    # index range, instead of joining every flagged mailbox to its account.
    # Nullable: adding it is a plain ALTER TABLE on SQLite, which keeps the
    # table's triggers.
    access_flag_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["office", "status", "subaccount_count"], name="listing_status"),
            models.Index(fields=["office", "access_flag_at"], name="listing_access_flag"),
            models.Index(fields=["office", "subaccount_count"], name="listing_subcount"),
            # Covering indexes for the list's name and ID orders, filters
            # included (the flagged sign-ins' time too): any page's keys are
            # an index-only walk.
            models.Index(
                fields=[
                    "office",
                    "name",
                    "login_id",
                    "account",
                    "status",
                    "subaccount_count",
                    "access_flag_at",
                ],
                name="listing_office_name",
            ),
            models.Index(
                fields=[
                    "office",
                    "login_id",
                    "account",
                    "status",
                    "subaccount_count",
                    "access_flag_at",
                ],
                name="listing_office_login",
            ),
        ]

    def __str__(self) -> str:
        return self.login_id


class OfficeTally(models.Model):
    """Counts the database keeps per office, so the users page and the audit
    log need not count a hundred thousand rows for every page they show.

    ``kind`` is ``"users"`` (accounts not deleted) or ``"audit.<action>"``
    (events of one action). The count of a kind is the sum of its rows.
    Triggers (migration 0014) write them in the transaction that changes the
    counted rows. On PostgreSQL each statement adds a row of its change: a
    new row takes no lock, so an import's long transaction writing audit
    events never makes an admin's action wait, as one counter row per office
    would. :func:`accounts.tallies.fold` later sums an office's rows into one
    per kind. SQLite has one writer at a time anyway, so there the triggers
    move a single row per kind.
    """

    office = models.ForeignKey(
        Office, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    kind = models.CharField(max_length=48)
    n = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["office", "kind", "n"], name="tally_office_kind")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.n}"


class SearchPiece(models.Model):
    """A piece of an account's searchable text, for counting a short search
    as an index range (``(office, gram, account)``, unique). Written only by
    database triggers, in the transaction that changes the text."""

    # The unique constraint's index serves the office's lookups; the
    # account's own index serves the triggers' deletes.
    office = models.ForeignKey(
        Office, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.gram


class AccountGram(SearchPiece):
    """Each one- and two-character piece holding a non-ASCII character
    (Hangul) of the names and IDs of the accounts not deleted, lower-cased:
    사용자 관리 counts a search of a syllable or two (``김``) as an index
    range here. No trigram index can answer it, and matching every account
    of a big office took most of that page's time. Kept by the account's
    triggers (migration 0015).
    """

    gram = models.CharField(max_length=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["office", "gram", "account"], name="account_gram_unique"
            )
        ]


class ListingTrigram(SearchPiece):
    """Every three-character piece (upper-cased, as the search compares) of
    the listed accounts' names, IDs and sub-account addresses. The usage
    list counts a search of three characters (``kim``, ``lee``) as an index
    range here, and walks its order against these ids: the trigram indexes
    (FTS5 on SQLite) find such a term's 20,000 accounts at 100,000 just as
    fast, but must then recheck, merge and join every one of them. Kept by
    the listing's and the addresses' triggers (migration 0016).
    """

    gram = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["office", "gram", "account"], name="listing_trigram_unique"
            )
        ]


class Folder(models.Model):
    class Role(models.TextChoices):
        INBOX = "inbox", _("Inbox")
        SENT = "sent", _("Sent")
        DRAFTS = "drafts", _("Drafts")
        SPAM = "spam", _("Spam")
        TRASH = "trash", _("Trash")
        CUSTOM = "custom", _("Folder")
        SUBACCOUNT = "subaccount", _("Sub-account folder")

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="folders")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    name = models.CharField(_("folder name"), max_length=255)
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.CUSTOM)
    # The folder's own messages (not those of folders below it), kept in the
    # same transaction as every message insert, delete and move, like the
    # mailbox's counters: the detail pane reads these instead of counting a
    # folder that may hold hundreds of thousands of messages. Only the
    # embedded store keeps them; the Dovecot store asks Dovecot.
    message_count = models.IntegerField(_("messages"), default=0)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(message_count__gte=0), name="folder_count_nonnegative"
            ),
            models.CheckConstraint(condition=Q(size_bytes__gte=0), name="folder_size_nonnegative"),
            models.UniqueConstraint(
                "mailbox",
                Lower("name"),
                condition=Q(parent__isnull=True),
                name="folder_unique_top_level_name",
            ),
            models.UniqueConstraint("parent", Lower("name"), name="folder_unique_child_name"),
            models.UniqueConstraint(
                fields=["mailbox"], condition=Q(role="inbox"), name="folder_one_inbox"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Message(models.Model):
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="messages")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="messages")
    size_bytes = models.BigIntegerField()
    subject = models.CharField(max_length=255, blank=True)
    sender = models.CharField(max_length=320, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(size_bytes__gte=0), name="message_size_nonnegative"),
        ]
        indexes = [
            models.Index(fields=["mailbox", "folder"], name="message_mailbox_folder"),
            # Size included: a folder's count and size (the pane's folder
            # figures) are an index-only read, not a visit to every message.
            models.Index(fields=["folder", "size_bytes"], name="message_folder_size"),
        ]


class Address(models.Model):
    """One row per address of the office: the registry that keeps every
    address unique in its office.

    Every account's ID occupies its address, with or without mail, and so does
    every sub-account; the unique index on ``(office, LOWER(local_part))``
    makes a clash impossible whatever the case or the kind of owner.
    """

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="addresses")
    local_part = models.CharField(max_length=64)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="addresses")
    # Where mail to this address is delivered: null for an account's own
    # address (its inbox), the sub-account's folder for a sub-account's. The
    # mail servers' lookups and the list's address search read it here, so
    # nothing outside the sub-account app needs to know its tables.
    # (DO_NOTHING: the database's foreign key refuses deleting a folder that
    # an address still delivers into, without a look-up query per delete.)
    folder = models.ForeignKey(
        "accounts.Folder",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="addresses",
    )

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        constraints = [
            models.UniqueConstraint("office", Lower("local_part"), name="address_unique_in_office"),
        ]
        indexes = [models.Index(fields=["account"], name="address_account")]

    def __str__(self) -> str:
        return self.local_part


class SenderAddress(models.Model):
    """An entry of the user's 보내는 사람 목록 (compose settings sender list)."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sender_addresses")
    address = models.CharField(max_length=320)
    display_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "account", Lower("address"), name="sender_address_unique_per_account"
            ),
        ]


class AccessFlag(models.TextChoices):
    """Why a sign-in is flagged (accounts/access_flags.py)."""

    NEW_COUNTRY = "new_country", _("New country")
    FOREIGN = "foreign", _("Abroad")
    BURST = "burst", _("Failed sign-in burst")


class AccessLog(models.Model):
    """POP3/SMTP logins, folded: one row per account, UTC hour, protocol,
    IP address and result, with the first and last login of that hour and
    how many there were.

    A mail client polling every five minutes is twelve logins an hour and
    one row here, so an account's three months are bounded by the hours it
    was active and the distinct clients, not by its polling rate. The exact
    last access lives on the mailbox (``last_access_*``).

    On PostgreSQL the table is partitioned by ``hour``, one partition per
    month (migration 0010, :mod:`accounts.access_partitions`), so pruning
    drops whole months; every unique key holds ``hour``, the partition key.
    """

    # No index of their own: (office, hour) and the fold key lead with them.
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="access_logs", db_index=False
    )
    protocol = models.CharField(max_length=4, choices=Mailbox.Protocol.choices)
    # The start of the UTC hour the logins fall in.
    hour = models.DateTimeField()
    ip = models.GenericIPAddressField()
    country = models.CharField(max_length=2, blank=True)
    succeeded = models.BooleanField(default=True)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    flag = models.CharField(max_length=12, blank=True, choices=AccessFlag.choices)

    class Meta:
        constraints = [
            # Also the pane's index: (account, hour) leads it.
            models.UniqueConstraint(
                fields=["account", "hour", "protocol", "ip", "succeeded"],
                name="access_log_fold",
            ),
        ]
        indexes = [
            models.Index(fields=["office", "hour"], name="access_log_office_hour"),
        ]

    @property
    def at(self):
        """The newest login of the row (what a one-login row showed)."""
        return self.last_at

    @classmethod
    def login(cls, *, at, **fields) -> AccessLog:
        """One login as a row of its own (demo and test data; the importer
        folds many)."""
        return cls(hour=fold_hour(at), first_at=at, last_at=at, count=1, **fields)


class AccessImportPosition(models.Model):
    """How far ``import_maillog`` got in one source, committed in the same
    transaction as the logins it read there, so a second import (or a
    restart of ``--follow``) starts right after them: nothing twice, nothing
    missed.

    A file is known by its first line (``file:<sha256>``), whatever its
    name, so ``mail.log`` renamed to ``mail.log.1`` (or compressed) is the
    same source; ``offset`` counts bytes of its uncompressed content. A
    stream (stdin) is known by name (``stream:<name>``) and remembers the
    time of its newest login and the hashes of the lines of its last few
    seconds, so a replayed overlap (``journalctl -f`` starts with the last
    lines) is skipped.
    """

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=80)
    path = models.CharField(max_length=1024, blank=True)
    offset = models.BigIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)
    recent_hashes = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["office", "source"], name="access_position_source"),
        ]

    def __str__(self) -> str:
        return f"{self.source} @ {self.offset}"


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        LOGIN = "login", _("Admin login")
        LOGIN_FAILED = "login_failed", _("Failed admin login")
        LOGIN_LOCKED = "login_locked", _("Login locked out")
        TWO_FACTOR_ENABLED = "two_factor_enabled", _("Two-factor sign-in set up")
        TWO_FACTOR_DISABLED = "two_factor_disabled", _("Two-factor sign-in turned off")
        TWO_FACTOR_RESET = "two_factor_reset", _("Two-factor sign-in reset")
        TWO_FACTOR_CODES = "two_factor_codes", _("New recovery codes")
        TWO_FACTOR_POLICY = "two_factor_policy", _("Two-factor requirement changed")
        LOGOUT = "logout", _("Logout")
        MAILBOX_EMPTY = "mailbox_empty", _("Mailbox emptied")
        SUBACCOUNT_ADD = "subaccount_add", _("Sub-account added")
        SUBACCOUNT_DELETE = "subaccount_delete", _("Sub-account deleted")
        ACCOUNT_UPDATE = "account_update", _("User changed")
        ACCOUNT_CREATE = "account_create", _("User added")
        BULK_UPDATE = "bulk_update", _("Bulk change")
        BULK_IMPORT = "bulk_import", _("Bulk registration")
        ROSTER_EXPORT = "roster_export", _("Mail usage list downloaded")
        AUDIT_EXPORT = "audit_export", _("Audit log downloaded")
        ROLE_CHANGE = "role_change", _("Admin role changed")
        PASSWORD_RESET = "password_reset", _("Password reset")
        MAIL_PASSWORD = "mail_password", _("Mail-only password changed")
        QUOTA_CHANGE = "quota_change", _("Quota changed")
        OFFICE_SETTINGS = "office_settings", _("Office settings changed")
        ACCOUNT_DELETE = "account_delete", _("User deleted")
        ACCOUNT_RESTORE = "account_restore", _("User restored")
        ACCOUNT_PURGE = "account_purge", _("Deleted user purged")
        ACCESS_FLAGGED = "access_flagged", _("Sign-in flagged")

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=320, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    target_label = models.CharField(max_length=320, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The log's own order (newest first, id settling ties): a page's
            # keys are an index-only walk.
            models.Index(F("office"), F("at").desc(), F("id").desc(), name="audit_office_at_id"),
            models.Index(fields=["office", "action", "at"], name="audit_office_action"),
            # The actor and target filters ask for accounts' ids. Only events
            # with an account: an IN of ids implies it, and the filters' other
            # arm (events without an account, matched by their label) cannot
            # then be read through these indexes' NULLs -- SQLite did, the
            # 270,000 events without a target of a million (1.4 s), taking
            # the small partial index below for a big one.
            models.Index(
                F("office"),
                F("actor"),
                F("at").desc(),
                condition=Q(actor__isnull=False),
                name="audit_office_actor",
            ),
            models.Index(
                F("office"),
                F("target"),
                F("at").desc(),
                condition=Q(target__isnull=False),
                name="audit_office_target",
            ),
            # Events without an account but with its label (a failed
            # login's tried ID, a purged user): the ones the label filters
            # read. The label is in the index so that matching it reads
            # index entries, not the events (50,000 failed logins: 110 ms
            # on SQLite, 11 ms so).
            models.Index(
                F("office"),
                F("at").desc(),
                F("actor_label"),
                condition=Q(actor__isnull=True) & ~Q(actor_label=""),
                name="audit_actor_label_only",
            ),
            models.Index(
                F("office"),
                F("at").desc(),
                F("target_label"),
                condition=Q(target__isnull=True) & ~Q(target_label=""),
                name="audit_target_label_only",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_label}"


class ExportJob(models.Model):
    """A roster export too big for one request, written by a background
    worker; ``done`` out of ``total`` rows is what the progress bar shows.
    The file lives under MEDIA_ROOT until ``expires`` and is served only to
    the office's admins."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    params = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=8, blank=True)  # of the file's header
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The worker writes the file itself, at exports/<office>/<job>/<name>.
    file = models.FileField(upload_to="exports/", max_length=255, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField()
    # Liveness (accounts/export_jobs.py): the running worker touches
    # ``heartbeat`` every few seconds; a running job whose heartbeat stopped
    # lost its worker and is started again (``attempts`` counts the runs) or
    # given up. ``task_id`` is the django-tasks result of the current run.
    heartbeat = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["office", "created"], name="exportjob_office_created"),
            models.Index(fields=["status", "heartbeat"], name="exportjob_status_heartbeat"),
            models.Index(fields=["expires"], name="exportjob_expires"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(done__lte=F("total")), name="exportjob_done_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires


class LoginThrottle(models.Model):
    """Failed sign-ins from one IP address, whatever the IDs (django-axes
    counts per ID + IP; this is the second, wider counter beside it).

    ``failures`` counts from ``window_start``; reaching the IP limit sets
    ``locked_until``. IDs no account has are counted here too, in
    ``unknown_ids`` ({"id@domain": [failures, last failure as a timestamp]}),
    so guessing at made-up IDs adds no row per ID: the entries only grow
    while the IP may still fail, so the IP limit bounds them, and stale ones
    are dropped on every write.
    """

    ip = models.CharField(max_length=45, unique=True)  # "" when the peer is unknown
    window_start = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    unknown_ids = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["window_start"], name="loginthrottle_window")]

    def __str__(self) -> str:
        return f"{self.ip or '?'}: {self.failures}"


class BulkJob(models.Model):
    """A bulk action on more accounts than one request should change,
    applied by the background worker a chunk at a time.

    ``account_ids`` is the set the admin confirmed (sorted); ``done`` is how
    many of them are finished. Each chunk commits together with its
    ``done``, so an interrupted run leaves every account either changed
    (with its audit event) or untouched, and running the job again resumes
    after the last finished chunk."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=16)
    quota_bytes = models.BigIntegerField(null=True, blank=True)
    account_ids = models.JSONField(default=list)
    # The action's summary audit event (written when the job was started).
    summary = models.ForeignKey(
        AuditEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)  # the list's filters, to go back
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["office", "created"], name="bulkjob_office_created")]
        constraints = [
            models.CheckConstraint(condition=Q(done__lte=F("total")), name="bulkjob_done_le_total"),
        ]

    def __str__(self) -> str:
        return f"bulk {self.action} {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)
