"""How the usage list asks the search structures that migration
``0002_search_and_listing`` creates (the SQL of the tables and triggers is
written out there, as it ran).

SQLite: the FTS5 ``trigram`` tables answer substrings of three characters
or more (``account_search_fts``: names and IDs; ``address_search_fts``:
every address, sub-account addresses included); ``listing_gram`` answers a
Hangul search of one or two syllables. PostgreSQL needs none of these: its
trigram GIN indexes serve ``icontains`` directly.
"""

from __future__ import annotations

# What the usage list's search asks (``%s``: an FTS5 phrase, fts_phrase()).
ACCOUNT_MATCH = "SELECT rowid FROM account_search_fts WHERE account_search_fts MATCH %s"
ADDRESS_MATCH = "SELECT account_id FROM address_search_fts WHERE address_search_fts MATCH %s"
GRAM_MATCH = "SELECT account_id FROM listing_gram WHERE office_id = %s AND gram = lower(%s)"
GRAM_COUNT = "SELECT COUNT(*) FROM listing_gram WHERE office_id = %s AND gram = lower(%s)"

# The shortest pattern the trigram index can answer.
MIN_INDEXED_LENGTH = 3

# A three-character search counted on the listed accounts'
# pieces (``accounts.models.ListingTrigram``), upper-cased as the search
# compares.
TRIGRAM_COUNT = (
    "SELECT COUNT(*) FROM accounts_listingtrigram WHERE office_id = %s AND gram = upper(%s)"
)
TRIGRAM_MATCH = (
    "SELECT account_id FROM accounts_listingtrigram WHERE office_id = %s AND gram = upper(%s)"
)

# The triggers that keep the SQLite search structures and the listing equal
# to their tables (created by the migration above; the one that copies the
# mailbox's flag, FLAG_TRIGGER, by ``0013_listing_access_flag``).
FLAG_TRIGGER = "listing_mailbox_au"
SQLITE_TRIGGERS = frozenset(
    {
        "account_search_ai",
        "account_search_ad",
        "account_search_au",
        "address_search_ai",
        "address_search_ad",
        "address_search_au",
        "listing_mailbox_ai",
        "listing_mailbox_ad",
        FLAG_TRIGGER,
        "listing_account_au",
        "listing_account_ad",
        "listing_gram_ai",
        "listing_gram_ad",
        "listing_gram_au",
    }
)
# The Hangul pieces of the accounts' names and IDs (``0015_account_grams``).
ACCOUNT_GRAM_TRIGGERS = frozenset({"account_gram_ai", "account_gram_au", "account_gram_ad"})
ACCOUNT_GRAM_COUNT = (
    "SELECT COUNT(*) FROM accounts_accountgram WHERE office_id = %s AND gram = lower(%s)"
)
# The listed accounts' three-character pieces (``0016_listing_trigrams``).
LISTING_TRIGRAM_TRIGGERS = frozenset(
    {
        "listing_trigram_ai",
        "listing_trigram_au",
        "listing_trigram_ad",
        "address_trigram_ai",
        "address_trigram_au",
        "address_trigram_ad",
    }
)
# The per-office counts' triggers (``0014_office_tallies``).
TALLY_TRIGGERS = frozenset(
    {
        "tally_audit_ai",
        "tally_audit_ad",
        "tally_audit_au",
        "tally_users_ai",
        "tally_users_ad",
        "tally_users_au",
        "tally_office_ad",
    }
)
LISTING_TALLY_TRIGGERS = frozenset(
    {"tally_listing_bi", "tally_listing_ai", "tally_listing_ad", "tally_listing_au"}
)


class MissingTriggers(RuntimeError):
    pass


def gram_searchable(value: str) -> bool:
    """A 1-2 character search holding a non-ASCII character (a Hangul
    syllable or two): answered from ``listing_gram`` on SQLite."""
    return 1 <= len(value) <= 2 and not value.isascii()


def trigram_countable(value: str) -> bool:
    """A search of exactly three characters, not an address: its matches
    are the accounts holding it as a piece (see TRIGRAM_COUNT)."""
    return len(value) == MIN_INDEXED_LENGTH and "@" not in value


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: a literal substring, whatever it holds."""
    return '"' + text.replace('"', '""') + '"'


def check_sqlite_triggers(using: str = "default", plan=None, **kwargs) -> None:
    """post_migrate: fail loudly when a migration rebuilt a SQLite table
    (Django's way to alter one) and so dropped triggers it did not create
    again; silently stale search results would be far worse."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    if connection.vendor != "sqlite" or not plan:
        return
    tables = set(connection.introspection.table_names())
    if "accounts_maillisting" not in tables:
        return  # migrated backwards past the structures
    expected = SQLITE_TRIGGERS
    if "accounts_officetally" in tables:
        expected = expected | TALLY_TRIGGERS
    if "accounts_accountgram" in tables:
        expected = expected | ACCOUNT_GRAM_TRIGGERS
    if "accounts_listingtrigram" in tables:
        expected = expected | LISTING_TRIGRAM_TRIGGERS
    if ("accounts", "0018_listing_tally") in MigrationRecorder(connection).applied_migrations():
        # No table of its own to tell it by: the migration's record does.
        expected = expected | LISTING_TALLY_TRIGGERS
    with connection.cursor() as cursor:
        columns = {
            column.name
            for column in connection.introspection.get_table_description(
                cursor, "accounts_maillisting"
            )
        }
        if "access_flag_at" not in columns:
            expected = expected - {FLAG_TRIGGER}  # migrated backwards past 0013
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        missing = expected - {row[0] for row in cursor.fetchall()}
    if missing:
        raise MissingTriggers(
            "These SQLite triggers are missing after migrate: "
            + ", ".join(sorted(missing))
            + ". A migration altered their table; it must create them again "
            "(copy their SQL from the migration that created them: "
            "accounts/migrations/0002_search_and_listing.py, "
            "0013_listing_access_flag.py, 0014_office_tallies.py, 0015_account_grams.py, 0016_listing_trigrams.py, "
            "0018_listing_tally.py)."
        )


def refresh_sqlite_statistics(using: str = "default", plan=None, **kwargs) -> None:
    """post_migrate: SQLite plans from the statistics ANALYZE stores and
    never gathers them itself; a new index without them can look better
    than it is (the usage list then sorts 100,000 rows instead of walking
    its name index). Refreshed whenever migrations changed the schema."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite" or not plan:
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
