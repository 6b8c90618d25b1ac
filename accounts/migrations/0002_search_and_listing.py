"""The SQL the ORM cannot say, written out here as it ran.

- The usage list's read model ``accounts_maillisting`` (model MailListing)
  is kept by triggers on both databases: a mailbox insert adds the account's
  row, a mailbox delete removes it, a change of the listed account columns
  updates it. The list counts from it without a join.
- PostgreSQL: trigram GIN indexes serve the substring search
  (``UPPER(col) LIKE UPPER('%q%')`` is what ``icontains`` emits) on names,
  IDs and addresses; B-trees built NULLS FIRST serve the share and
  last-access sorts in both directions.
- SQLite has no index for ``LIKE '%…%'``: FTS5 ``trigram`` tables mirror the
  account names and IDs (``account_search_fts``) and every address
  (``address_search_fts``), kept by triggers; ``listing_gram`` holds the 1-2
  character grams holding a non-ASCII character (a Hangul syllable or two,
  which no trigram can serve), kept by triggers on the listing.

Django rebuilds a SQLite table to alter it, which drops that table's
triggers: a later migration that alters one of these tables must create its
triggers again itself (with the SQL copied into it). The accounts app checks
after every ``migrate`` that none is missing.
"""

from django.db import migrations

POSTGRESQL = [
    'CREATE EXTENSION IF NOT EXISTS pg_trgm',
    'CREATE INDEX IF NOT EXISTS "account_name_trgm" ON "accounts_account" USING gin (UPPER("name") gin_trgm_ops)',
    'CREATE INDEX IF NOT EXISTS "account_login_id_trgm" ON "accounts_account" USING gin (UPPER("login_id") gin_trgm_ops)',
    'CREATE INDEX IF NOT EXISTS "mailbox_office_share_nf" ON "accounts_mailbox" USING btree (office_id, usage_share NULLS FIRST)',
    'CREATE INDEX IF NOT EXISTS "mailbox_office_access_nf" ON "accounts_mailbox" USING btree (office_id, last_access_at NULLS FIRST)',
    'CREATE INDEX IF NOT EXISTS "address_local_part_trgm" ON "accounts_address" USING gin (UPPER("local_part") gin_trgm_ops)',
    "CREATE OR REPLACE FUNCTION listing_from_mailbox() RETURNS trigger AS $$ BEGIN IF TG_OP = 'INSERT' THEN INSERT INTO accounts_maillisting (account_id, office_id, name, login_id, status, subaccount_count) SELECT id, office_id, name, login_id, status, subaccount_count FROM accounts_account WHERE id = NEW.account_id ON CONFLICT (account_id) DO UPDATE SET office_id = EXCLUDED.office_id, name = EXCLUDED.name, login_id = EXCLUDED.login_id, status = EXCLUDED.status, subaccount_count = EXCLUDED.subaccount_count; RETURN NEW; END IF; DELETE FROM accounts_maillisting WHERE account_id = OLD.account_id; RETURN OLD; END $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE FUNCTION listing_from_account() RETURNS trigger AS $$ BEGIN IF TG_OP = 'UPDATE' THEN UPDATE accounts_maillisting SET office_id = NEW.office_id, name = NEW.name, login_id = NEW.login_id, status = NEW.status, subaccount_count = NEW.subaccount_count WHERE account_id = NEW.id; RETURN NEW; END IF; DELETE FROM accounts_maillisting WHERE account_id = OLD.id; RETURN OLD; END $$ LANGUAGE plpgsql",
    'DROP TRIGGER IF EXISTS listing_mailbox ON accounts_mailbox',
    'CREATE TRIGGER listing_mailbox AFTER INSERT OR DELETE ON accounts_mailbox FOR EACH ROW EXECUTE FUNCTION listing_from_mailbox()',
    'DROP TRIGGER IF EXISTS listing_account ON accounts_account',
    'CREATE TRIGGER listing_account AFTER UPDATE OF office_id, name, login_id, status, subaccount_count OR DELETE ON accounts_account FOR EACH ROW EXECUTE FUNCTION listing_from_account()',
    'DELETE FROM accounts_maillisting',
    'INSERT INTO accounts_maillisting (account_id, office_id, name, login_id, status, subaccount_count) SELECT a.id, a.office_id, a.name, a.login_id, a.status, a.subaccount_count FROM accounts_account a JOIN accounts_mailbox m ON m.account_id = a.id',
]

POSTGRESQL_DROP = [
    'DROP TRIGGER IF EXISTS listing_mailbox ON accounts_mailbox',
    'DROP TRIGGER IF EXISTS listing_account ON accounts_account',
    'DROP FUNCTION IF EXISTS listing_from_mailbox()',
    'DROP FUNCTION IF EXISTS listing_from_account()',
    'DROP INDEX IF EXISTS "account_name_trgm"',
    'DROP INDEX IF EXISTS "account_login_id_trgm"',
    'DROP INDEX IF EXISTS "mailbox_office_share_nf"',
    'DROP INDEX IF EXISTS "mailbox_office_access_nf"',
    'DROP INDEX IF EXISTS "address_local_part_trgm"',
]

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS account_search_fts USING fts5(name, login_id, tokenize='trigram')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS address_search_fts USING fts5(local_part, account_id UNINDEXED, tokenize='trigram')",
    'INSERT INTO account_search_fts(rowid, name, login_id) SELECT id, name, login_id FROM accounts_account',
    'INSERT INTO address_search_fts(rowid, local_part, account_id) SELECT id, local_part, account_id FROM accounts_address',
    'CREATE TRIGGER IF NOT EXISTS account_search_ai AFTER INSERT ON accounts_account BEGIN INSERT INTO account_search_fts(rowid, name, login_id) VALUES (new.id, new.name, new.login_id); END',
    'CREATE TRIGGER IF NOT EXISTS account_search_ad AFTER DELETE ON accounts_account BEGIN DELETE FROM account_search_fts WHERE rowid = old.id; END',
    'CREATE TRIGGER IF NOT EXISTS account_search_au AFTER UPDATE OF name, login_id ON accounts_account BEGIN DELETE FROM account_search_fts WHERE rowid = old.id; INSERT INTO account_search_fts(rowid, name, login_id) VALUES (new.id, new.name, new.login_id); END',
    'CREATE TRIGGER IF NOT EXISTS address_search_ai AFTER INSERT ON accounts_address BEGIN INSERT INTO address_search_fts(rowid, local_part, account_id) VALUES (new.id, new.local_part, new.account_id); END',
    'CREATE TRIGGER IF NOT EXISTS address_search_ad AFTER DELETE ON accounts_address BEGIN DELETE FROM address_search_fts WHERE rowid = old.id; END',
    'CREATE TRIGGER IF NOT EXISTS address_search_au AFTER UPDATE OF local_part, account_id ON accounts_address BEGIN DELETE FROM address_search_fts WHERE rowid = old.id; INSERT INTO address_search_fts(rowid, local_part, account_id) VALUES (new.id, new.local_part, new.account_id); END',
    'CREATE TRIGGER IF NOT EXISTS listing_mailbox_ai AFTER INSERT ON accounts_mailbox BEGIN INSERT OR REPLACE INTO accounts_maillisting (account_id, office_id, name, login_id, status, subaccount_count) SELECT id, office_id, name, login_id, status, subaccount_count FROM accounts_account WHERE id = new.account_id; END',
    'CREATE TRIGGER IF NOT EXISTS listing_mailbox_ad AFTER DELETE ON accounts_mailbox BEGIN DELETE FROM accounts_maillisting WHERE account_id = old.account_id; END',
    'CREATE TRIGGER IF NOT EXISTS listing_account_au AFTER UPDATE OF office_id, name, login_id, status, subaccount_count ON accounts_account BEGIN UPDATE accounts_maillisting SET office_id = new.office_id, name = new.name, login_id = new.login_id, status = new.status, subaccount_count = new.subaccount_count WHERE account_id = new.id; END',
    'CREATE TRIGGER IF NOT EXISTS listing_account_ad AFTER DELETE ON accounts_account BEGIN DELETE FROM accounts_maillisting WHERE account_id = old.id; END',
    'DELETE FROM accounts_maillisting',
    'INSERT INTO accounts_maillisting (account_id, office_id, name, login_id, status, subaccount_count) SELECT a.id, a.office_id, a.name, a.login_id, a.status, a.subaccount_count FROM accounts_account a JOIN accounts_mailbox m ON m.account_id = a.id',
    'CREATE TABLE IF NOT EXISTS listing_gram (office_id integer NOT NULL, gram text NOT NULL, account_id integer NOT NULL, PRIMARY KEY (office_id, gram, account_id)) WITHOUT ROWID',
    'CREATE INDEX IF NOT EXISTS listing_gram_account ON listing_gram (account_id)',
    "INSERT OR IGNORE INTO listing_gram (office_id, gram, account_id) SELECT src.office_id, lower(substr(src.s, k.column1, n.column1)), src.account_id FROM (SELECT office_id, account_id, name AS s FROM accounts_maillisting UNION ALL SELECT office_id, account_id, login_id FROM accounts_maillisting) AS src, (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31), (32), (33), (34), (35), (36), (37), (38), (39), (40), (41), (42), (43), (44), (45), (46), (47), (48), (49), (50), (51), (52), (53), (54), (55), (56), (57), (58), (59), (60), (61), (62), (63), (64), (65), (66), (67), (68), (69), (70), (71), (72), (73), (74), (75), (76), (77), (78), (79), (80), (81), (82), (83), (84), (85), (86), (87), (88), (89), (90), (91), (92), (93), (94), (95), (96), (97), (98), (99), (100)) AS k, (VALUES (1), (2)) AS n WHERE k.column1 + n.column1 - 1 <= length(src.s) AND substr(src.s, k.column1, n.column1) GLOB '*[^ -~]*'",
    "CREATE TRIGGER IF NOT EXISTS listing_gram_ai AFTER INSERT ON accounts_maillisting BEGIN INSERT OR IGNORE INTO listing_gram (office_id, gram, account_id) SELECT new.office_id, lower(substr(src.s, k.column1, n.column1)), new.account_id FROM (SELECT new.name AS s UNION ALL SELECT new.login_id) AS src, (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31), (32), (33), (34), (35), (36), (37), (38), (39), (40), (41), (42), (43), (44), (45), (46), (47), (48), (49), (50), (51), (52), (53), (54), (55), (56), (57), (58), (59), (60), (61), (62), (63), (64), (65), (66), (67), (68), (69), (70), (71), (72), (73), (74), (75), (76), (77), (78), (79), (80), (81), (82), (83), (84), (85), (86), (87), (88), (89), (90), (91), (92), (93), (94), (95), (96), (97), (98), (99), (100)) AS k, (VALUES (1), (2)) AS n WHERE k.column1 + n.column1 - 1 <= length(src.s) AND substr(src.s, k.column1, n.column1) GLOB '*[^ -~]*'; END",
    'CREATE TRIGGER IF NOT EXISTS listing_gram_ad AFTER DELETE ON accounts_maillisting BEGIN DELETE FROM listing_gram WHERE account_id = old.account_id; END',
    "CREATE TRIGGER IF NOT EXISTS listing_gram_au AFTER UPDATE OF office_id, name, login_id ON accounts_maillisting BEGIN DELETE FROM listing_gram WHERE account_id = old.account_id; INSERT OR IGNORE INTO listing_gram (office_id, gram, account_id) SELECT new.office_id, lower(substr(src.s, k.column1, n.column1)), new.account_id FROM (SELECT new.name AS s UNION ALL SELECT new.login_id) AS src, (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31), (32), (33), (34), (35), (36), (37), (38), (39), (40), (41), (42), (43), (44), (45), (46), (47), (48), (49), (50), (51), (52), (53), (54), (55), (56), (57), (58), (59), (60), (61), (62), (63), (64), (65), (66), (67), (68), (69), (70), (71), (72), (73), (74), (75), (76), (77), (78), (79), (80), (81), (82), (83), (84), (85), (86), (87), (88), (89), (90), (91), (92), (93), (94), (95), (96), (97), (98), (99), (100)) AS k, (VALUES (1), (2)) AS n WHERE k.column1 + n.column1 - 1 <= length(src.s) AND substr(src.s, k.column1, n.column1) GLOB '*[^ -~]*'; END",
]

SQLITE_DROP = [
    'DROP TRIGGER IF EXISTS listing_gram_ai',
    'DROP TRIGGER IF EXISTS listing_gram_ad',
    'DROP TRIGGER IF EXISTS listing_gram_au',
    'DROP TRIGGER IF EXISTS listing_mailbox_ai',
    'DROP TRIGGER IF EXISTS listing_mailbox_ad',
    'DROP TRIGGER IF EXISTS listing_account_au',
    'DROP TRIGGER IF EXISTS listing_account_ad',
    'DROP TRIGGER IF EXISTS account_search_ai',
    'DROP TRIGGER IF EXISTS account_search_ad',
    'DROP TRIGGER IF EXISTS account_search_au',
    'DROP TRIGGER IF EXISTS address_search_ai',
    'DROP TRIGGER IF EXISTS address_search_ad',
    'DROP TRIGGER IF EXISTS address_search_au',
    'DROP TABLE IF EXISTS listing_gram',
    'DROP TABLE IF EXISTS account_search_fts',
    'DROP TABLE IF EXISTS address_search_fts',
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        with schema_editor.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
            elidable=False,
        )
    ]
