"""Database-kept structures behind the usage list (issue 7).

1. The mail listing (``accounts_maillisting``, model MailListing): one
   narrow row per account that uses mail, kept by triggers on both
   databases, so the list counts without a join.

2. An indexed substring search for SQLite (PostgreSQL has trigram GIN
indexes, migration 0003).

SQLite has no index that serves ``LIKE '%…%'``; its FTS5 ``trigram``
tokenizer (SQLite 3.34+) does, for patterns of three characters or more. Two
FTS5 tables mirror what the usage list searches:

- ``account_search_fts`` (rowid = account id): name and ID;
- ``address_search_fts`` (rowid = address id, with the owner's account id):
  every address of the office, sub-account addresses included.

Triggers keep them equal to their tables. Django rebuilds a SQLite table to
alter it (create, copy, drop, rename), which drops that table's triggers, so
:func:`ensure_sqlite_search_index` runs after every ``migrate`` and puts back
any missing trigger, refilling the index when one was missing.
"""

from __future__ import annotations

TABLES = {
    "account_search_fts": "CREATE VIRTUAL TABLE IF NOT EXISTS account_search_fts "
    "USING fts5(name, login_id, tokenize='trigram')",
    "address_search_fts": "CREATE VIRTUAL TABLE IF NOT EXISTS address_search_fts "
    "USING fts5(local_part, account_id UNINDEXED, tokenize='trigram')",
}

FILL = {
    "account_search_fts": "INSERT INTO account_search_fts(rowid, name, login_id) "
    "SELECT id, name, login_id FROM accounts_account",
    "address_search_fts": "INSERT INTO address_search_fts(rowid, local_part, account_id) "
    "SELECT id, local_part, account_id FROM accounts_address",
}

TRIGGERS = {
    "account_search_ai": "CREATE TRIGGER IF NOT EXISTS account_search_ai "
    "AFTER INSERT ON accounts_account BEGIN "
    "INSERT INTO account_search_fts(rowid, name, login_id) "
    "VALUES (new.id, new.name, new.login_id); END",
    "account_search_ad": "CREATE TRIGGER IF NOT EXISTS account_search_ad "
    "AFTER DELETE ON accounts_account BEGIN "
    "DELETE FROM account_search_fts WHERE rowid = old.id; END",
    "account_search_au": "CREATE TRIGGER IF NOT EXISTS account_search_au "
    "AFTER UPDATE OF name, login_id ON accounts_account BEGIN "
    "DELETE FROM account_search_fts WHERE rowid = old.id; "
    "INSERT INTO account_search_fts(rowid, name, login_id) "
    "VALUES (new.id, new.name, new.login_id); END",
    "address_search_ai": "CREATE TRIGGER IF NOT EXISTS address_search_ai "
    "AFTER INSERT ON accounts_address BEGIN "
    "INSERT INTO address_search_fts(rowid, local_part, account_id) "
    "VALUES (new.id, new.local_part, new.account_id); END",
    "address_search_ad": "CREATE TRIGGER IF NOT EXISTS address_search_ad "
    "AFTER DELETE ON accounts_address BEGIN "
    "DELETE FROM address_search_fts WHERE rowid = old.id; END",
    "address_search_au": "CREATE TRIGGER IF NOT EXISTS address_search_au "
    "AFTER UPDATE OF local_part, account_id ON accounts_address BEGIN "
    "DELETE FROM address_search_fts WHERE rowid = old.id; "
    "INSERT INTO address_search_fts(rowid, local_part, account_id) "
    "VALUES (new.id, new.local_part, new.account_id); END",
}

LISTING_COLUMNS = "account_id, office_id, name, login_id, status, subaccount_count"
LISTING_FILL = (
    f"INSERT INTO accounts_maillisting ({LISTING_COLUMNS}) "
    "SELECT a.id, a.office_id, a.name, a.login_id, a.status, a.subaccount_count "
    "FROM accounts_account a JOIN accounts_mailbox m ON m.account_id = a.id"
)
_LISTING_SET = (
    "office_id = new.office_id, name = new.name, login_id = new.login_id, "
    "status = new.status, subaccount_count = new.subaccount_count"
)
_LISTING_WATCHED = "office_id, name, login_id, status, subaccount_count"

SQLITE_LISTING_TRIGGERS = {
    "listing_mailbox_ai": "CREATE TRIGGER IF NOT EXISTS listing_mailbox_ai "
    "AFTER INSERT ON accounts_mailbox BEGIN "
    f"INSERT OR REPLACE INTO accounts_maillisting ({LISTING_COLUMNS}) "
    "SELECT id, office_id, name, login_id, status, subaccount_count "
    "FROM accounts_account WHERE id = new.account_id; END",
    "listing_mailbox_ad": "CREATE TRIGGER IF NOT EXISTS listing_mailbox_ad "
    "AFTER DELETE ON accounts_mailbox BEGIN "
    "DELETE FROM accounts_maillisting WHERE account_id = old.account_id; END",
    "listing_account_au": "CREATE TRIGGER IF NOT EXISTS listing_account_au "
    f"AFTER UPDATE OF {_LISTING_WATCHED} ON accounts_account BEGIN "
    f"UPDATE accounts_maillisting SET {_LISTING_SET} WHERE account_id = new.id; END",
    "listing_account_ad": "CREATE TRIGGER IF NOT EXISTS listing_account_ad "
    "AFTER DELETE ON accounts_account BEGIN "
    "DELETE FROM accounts_maillisting WHERE account_id = old.id; END",
}

PG_LISTING = [
    "CREATE OR REPLACE FUNCTION listing_from_mailbox() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    f"INSERT INTO accounts_maillisting ({LISTING_COLUMNS}) "
    "SELECT id, office_id, name, login_id, status, subaccount_count "
    "FROM accounts_account WHERE id = NEW.account_id "
    f"ON CONFLICT (account_id) DO UPDATE SET {_LISTING_SET.replace('new.', 'EXCLUDED.')}; "
    "RETURN NEW; END IF; "
    "DELETE FROM accounts_maillisting WHERE account_id = OLD.account_id; RETURN OLD; "
    "END $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE FUNCTION listing_from_account() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' THEN "
    f"UPDATE accounts_maillisting SET {_LISTING_SET.replace('new.', 'NEW.')} "
    "WHERE account_id = NEW.id; RETURN NEW; END IF; "
    "DELETE FROM accounts_maillisting WHERE account_id = OLD.id; RETURN OLD; "
    "END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS listing_mailbox ON accounts_mailbox",
    "CREATE TRIGGER listing_mailbox AFTER INSERT OR DELETE ON accounts_mailbox "
    "FOR EACH ROW EXECUTE FUNCTION listing_from_mailbox()",
    "DROP TRIGGER IF EXISTS listing_account ON accounts_account",
    f"CREATE TRIGGER listing_account AFTER UPDATE OF {_LISTING_WATCHED} OR DELETE "
    "ON accounts_account FOR EACH ROW EXECUTE FUNCTION listing_from_account()",
]
PG_LISTING_DROP = [
    "DROP TRIGGER IF EXISTS listing_mailbox ON accounts_mailbox",
    "DROP TRIGGER IF EXISTS listing_account ON accounts_account",
    "DROP FUNCTION IF EXISTS listing_from_mailbox()",
    "DROP FUNCTION IF EXISTS listing_from_account()",
]


def create_listing(cursor, vendor: str) -> None:
    """Install the listing's triggers and fill it from the tables."""
    if vendor == "postgresql":
        for sql in PG_LISTING:
            cursor.execute(sql)
    else:
        for sql in SQLITE_LISTING_TRIGGERS.values():
            cursor.execute(sql)
    cursor.execute("DELETE FROM accounts_maillisting")
    cursor.execute(LISTING_FILL)


def drop_listing(cursor, vendor: str) -> None:
    if vendor == "postgresql":
        for sql in PG_LISTING_DROP:
            cursor.execute(sql)
    else:
        for name in SQLITE_LISTING_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


# SQLite: 1- and 2-character grams (those holding a non-ASCII character) of
# every listed account's name and ID -- the "different path" for a Hangul
# search of one or two syllables, which no trigram can serve: ``김`` is then
# an index range rather than a LIKE over every name. Kept by triggers on
# the listing (itself kept by triggers).
_POSITIONS = "(VALUES " + ", ".join(f"({k})" for k in range(1, 101)) + ")"
_GRAMS_OF_NEW = (
    "INSERT OR IGNORE INTO listing_gram (office_id, gram, account_id) "
    "SELECT new.office_id, lower(substr(src.s, k.column1, n.column1)), new.account_id "
    "FROM (SELECT new.name AS s UNION ALL SELECT new.login_id) AS src, "
    f"{_POSITIONS} AS k, (VALUES (1), (2)) AS n "
    "WHERE k.column1 + n.column1 - 1 <= length(src.s) "
    "AND substr(src.s, k.column1, n.column1) GLOB '*[^ -~]*'"
)
GRAM_TABLE = (
    "CREATE TABLE IF NOT EXISTS listing_gram (office_id integer NOT NULL, gram text NOT NULL, "
    "account_id integer NOT NULL, PRIMARY KEY (office_id, gram, account_id)) WITHOUT ROWID"
)
GRAM_INDEX = "CREATE INDEX IF NOT EXISTS listing_gram_account ON listing_gram (account_id)"
GRAM_TRIGGERS = {
    "listing_gram_ai": "CREATE TRIGGER IF NOT EXISTS listing_gram_ai "
    f"AFTER INSERT ON accounts_maillisting BEGIN {_GRAMS_OF_NEW}; END",
    "listing_gram_ad": "CREATE TRIGGER IF NOT EXISTS listing_gram_ad "
    "AFTER DELETE ON accounts_maillisting BEGIN "
    "DELETE FROM listing_gram WHERE account_id = old.account_id; END",
    "listing_gram_au": "CREATE TRIGGER IF NOT EXISTS listing_gram_au "
    "AFTER UPDATE OF office_id, name, login_id ON accounts_maillisting BEGIN "
    f"DELETE FROM listing_gram WHERE account_id = old.account_id; {_GRAMS_OF_NEW}; END",
}
GRAM_FILL = (
    "INSERT OR IGNORE INTO listing_gram (office_id, gram, account_id) "
    "SELECT src.office_id, lower(substr(src.s, k.column1, n.column1)), src.account_id "
    "FROM (SELECT office_id, account_id, name AS s FROM accounts_maillisting "
    "UNION ALL SELECT office_id, account_id, login_id FROM accounts_maillisting) AS src, "
    f"{_POSITIONS} AS k, (VALUES (1), (2)) AS n "
    "WHERE k.column1 + n.column1 - 1 <= length(src.s) "
    "AND substr(src.s, k.column1, n.column1) GLOB '*[^ -~]*'"
)
GRAM_MATCH = "SELECT account_id FROM listing_gram WHERE office_id = %s AND gram = lower(%s)"
GRAM_COUNT = "SELECT COUNT(*) FROM listing_gram WHERE office_id = %s AND gram = lower(%s)"


def create_grams(cursor) -> None:
    cursor.execute(GRAM_TABLE)
    cursor.execute(GRAM_INDEX)
    cursor.execute("DELETE FROM listing_gram")
    cursor.execute(GRAM_FILL)
    for sql in GRAM_TRIGGERS.values():
        cursor.execute(sql)


def drop_grams(cursor) -> None:
    for name in GRAM_TRIGGERS:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
    cursor.execute("DROP TABLE IF EXISTS listing_gram")


def gram_searchable(value: str) -> bool:
    """A 1-2 character search holding a non-ASCII character (a Hangul
    syllable or two): answered from ``listing_gram`` on SQLite."""
    return 1 <= len(value) <= 2 and not value.isascii()


# What the usage list's search asks (``%s``: an FTS5 phrase, fts_phrase()).
ACCOUNT_MATCH = "SELECT rowid FROM account_search_fts WHERE account_search_fts MATCH %s"
ADDRESS_MATCH = "SELECT account_id FROM address_search_fts WHERE address_search_fts MATCH %s"

# The shortest pattern the trigram index can answer.
MIN_INDEXED_LENGTH = 3


def create(cursor) -> None:
    for sql in TABLES.values():
        cursor.execute(sql)
    for table in TABLES:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(FILL[table])
    for sql in TRIGGERS.values():
        cursor.execute(sql)


def drop(cursor) -> None:
    for name in TRIGGERS:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def ensure_sqlite_search_index(using: str = "default", **kwargs) -> None:
    """post_migrate: put back triggers a table rebuild removed, and refill
    the index or listing if any was missing (rows may have changed
    meanwhile). PostgreSQL keeps triggers through ALTER TABLE."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    tables = set(connection.introspection.table_names(include_views=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
        if set(TABLES) <= tables and not set(TRIGGERS) <= present:
            create(cursor)
        if "accounts_maillisting" in tables and not set(SQLITE_LISTING_TRIGGERS) <= present:
            create_listing(cursor, "sqlite")
        if "listing_gram" in tables and not set(GRAM_TRIGGERS) <= present:
            create_grams(cursor)


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: a literal substring, whatever it holds."""
    return '"' + text.replace('"', '""') + '"'


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
