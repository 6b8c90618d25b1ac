"""Lookup queries and configuration that wire Postfix and Dovecot to the
product's database.

Postfix asks three questions, each a ``sqlite:`` or ``pgsql:`` lookup table:

- ``virtual_mailbox_domains``: is ``%s`` an office's domain?
- ``virtual_mailbox_maps``: the primary address of an account that has a
  mailbox → its Maildir, ``domain/login_id/`` (under ``/var/vmail``);
- ``virtual_alias_maps``: a sub-account's address → the owner's address with
  the sub-account's folder as the extension, ``owner+INBOX.<folder>@domain``.
  Dovecot's LMTP (``recipient_delimiter = +``,
  ``lmtp_save_to_detail_mailbox = yes``) stores such mail in the detail
  mailbox ``INBOX.<folder>``: the sub-account's folder inside the owner's
  inbox. A deleted sub-account has no row, so its address is unknown again.

Dovecot asks two (``passdb`` and ``userdb``, driver ``sql``). The password
query honours what the admin sets in the product: a suspended account gets
no row; POP3 (service ``pop3``) or SMTP (``smtp`` from Postfix's SASL,
``submission`` from Dovecot's own) switched off gets no row for that
protocol; with a mail-only password set, POP3 and SMTP are given only that
hash, other services (IMAP) the account password. Group and shared mail
cannot sign in, as on the web. A deleted user (kept, restorable, until it
is purged) is in no answer at all: its addresses, its sub-accounts' and its
logins are unknown.

Password hashes: Django stores ``<algorithm>$…``. The product hashes with
Argon2id first (``settings.PASSWORD_HASHERS``), Django's
``argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash`` is the standard PHC string
behind a 6-letter prefix, which Dovecot verifies natively as
``{ARGON2ID}$argon2id$…``: the query strips ``argon2`` and adds
``{ARGON2ID}``. Hashes of other algorithms (the PBKDF2-SHA256 of passwords
set before, which Dovecot cannot verify: its PBKDF2 scheme is SHA-1 in its
own format) give no row; Django re-hashes a password with Argon2id at the
account's next web sign-in.

The SQL is plain enough for both SQLite and PostgreSQL and contains no
``%`` or ``$`` of its own, so neither Postfix nor Dovecot expands anything
but its variables.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Account, Address, Folder, Mailbox, Office

OFFICE = Office._meta.db_table
ACCOUNT = Account._meta.db_table
MAILBOX = Mailbox._meta.db_table
FOLDER = Folder._meta.db_table
ADDRESS = Address._meta.db_table

MAIL_ROOT = "/var/vmail"
POSTFIX_DIR = "/etc/postfix/mailadmin"
DOVECOT_SQL_FILE = "/etc/dovecot/mailadmin-sql.conf.ext"
DOVECOT_CONF_FILE = "/etc/dovecot/conf.d/99-mailadmin.conf"

# Dovecot's variables: 2.3 one-letter ones, 2.4 the new expansion syntax.
DOVECOT_VARIABLES = {
    "2.3": {"service": "%s", "username": "%n", "domain": "%d"},
    "2.4": {
        "service": "%{protocol}",
        "username": "%{user | username}",
        "domain": "%{user | domain}",
    },
}
# The services whose logins the product calls POP3 and SMTP.
POP3_SERVICES = ("pop3",)
SMTP_SERVICES = ("smtp", "submission")


def _sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _office_filter(domain: str | None, column: str = "o.domain") -> str:
    """Limit a query to one office's domain (a literal: the domain is ours)."""
    if not domain:
        return ""
    return f" AND {column} = '{domain.lower().replace(chr(39), '')}'"


# --- Postfix ---------------------------------------------------------------


def postfix_domains_query(domain: str | None = None) -> str:
    return f"SELECT o.domain FROM {OFFICE} o WHERE o.domain = LOWER('%s')" + _office_filter(domain)


def postfix_mailbox_query(domain: str | None = None) -> str:
    return (
        f"SELECT o.domain || '/' || a.login_id || '/'"
        f" FROM {ACCOUNT} a"
        f" JOIN {OFFICE} o ON o.id = a.office_id"
        f" JOIN {MAILBOX} m ON m.account_id = a.id AND a.deleted_at IS NULL"
        f" WHERE o.domain = LOWER('%d') AND a.login_id = LOWER('%u')" + _office_filter(domain)
    )


def postfix_alias_query(domain: str | None = None) -> str:
    # The Dovecot mailbox name of the folder: "INBOX.<name>" inside the
    # inbox (where sub-account folders live), "<parent>.<name>" elsewhere.
    return (
        f"SELECT a.login_id || '+' || CASE WHEN p.id IS NULL THEN ''"
        f" WHEN p.role = 'inbox' THEN 'INBOX.' ELSE p.name || '.' END"
        f" || f.name || '@' || o.domain"
        f" FROM {ADDRESS} s"
        f" JOIN {OFFICE} o ON o.id = s.office_id"
        f" JOIN {ACCOUNT} a ON a.id = s.account_id"
        f" JOIN {MAILBOX} m ON m.account_id = a.id AND a.deleted_at IS NULL"
        f" JOIN {FOLDER} f ON f.id = s.folder_id"
        f" LEFT JOIN {FOLDER} p ON p.id = f.parent_id"
        f" WHERE o.domain = LOWER('%d') AND LOWER(s.local_part) = LOWER('%u')"
        + _office_filter(domain)
    )


# --- Dovecot ---------------------------------------------------------------


def dovecot_password_query(version: str = "2.3", domain: str | None = None) -> str:
    v = DOVECOT_VARIABLES[version]
    service = f"'{v['service']}'"
    hash_for_service = (
        f"CASE WHEN {service} IN ({_sql_list(POP3_SERVICES + SMTP_SERVICES)})"
        f" AND m.mail_password <> '' THEN m.mail_password ELSE a.password END"
    )
    return (
        f"SELECT login.address AS user, '{{ARGON2ID}}' || SUBSTR(login.hash, 7) AS password"
        f" FROM (SELECT a.email AS address, {hash_for_service} AS hash"
        f" FROM {ACCOUNT} a"
        f" JOIN {OFFICE} o ON o.id = a.office_id"
        f" JOIN {MAILBOX} m ON m.account_id = a.id AND a.deleted_at IS NULL"
        f" WHERE o.domain = LOWER('{v['domain']}') AND a.login_id = LOWER('{v['username']}')"
        f" AND a.status = '{Account.Status.ACTIVE}' AND a.kind = '{Account.Kind.USER}'"
        f" AND ({service} NOT IN ({_sql_list(POP3_SERVICES)}) OR m.pop3_enabled)"
        f" AND ({service} NOT IN ({_sql_list(SMTP_SERVICES)}) OR m.smtp_enabled)"
        + _office_filter(domain)
        + ") login"
        " WHERE SUBSTR(login.hash, 1, 6) = 'argon2' AND SUBSTR(login.hash, 8, 8) = 'argon2id'"
    )


def dovecot_user_query(
    version: str = "2.3", domain: str | None = None, mail_root: str = MAIL_ROOT
) -> str:
    v = DOVECOT_VARIABLES[version]
    return (
        f"SELECT '{mail_root.rstrip('/')}/' || o.domain || '/' || a.login_id AS home,"
        f" '*:bytes=' || COALESCE(m.quota_bytes, 0) AS quota_rule"
        f" FROM {ACCOUNT} a"
        f" JOIN {OFFICE} o ON o.id = a.office_id"
        f" JOIN {MAILBOX} m ON m.account_id = a.id AND a.deleted_at IS NULL"
        f" WHERE o.domain = LOWER('{v['domain']}') AND a.login_id = LOWER('{v['username']}')"
        + _office_filter(domain)
    )


def dovecot_iterate_query(domain: str | None = None) -> str:
    return (
        f"SELECT a.email AS user FROM {ACCOUNT} a"
        f" JOIN {OFFICE} o ON o.id = a.office_id"
        f" JOIN {MAILBOX} m ON m.account_id = a.id AND a.deleted_at IS NULL"
        " WHERE 1 = 1" + _office_filter(domain)
    )


def expand(query: str, values: dict[str, str]) -> str:
    """Fill a query's variables the way Postfix and Dovecot do (values
    quoted for SQL by doubling ``'``): lets tests run the very strings the
    servers are given. ``values`` maps a variable (``%u``,
    ``%{protocol}`` …) to its value."""
    for variable in sorted(values, key=len, reverse=True):
        query = query.replace(variable, values[variable].replace("'", "''"))
    return query


# --- configuration files ---------------------------------------------------


@dataclass(frozen=True)
class Database:
    """Where the mail servers find the product's database."""

    kind: str  # "sqlite" or "pgsql"
    path: str = ""  # sqlite
    host: str = ""  # pgsql: host name, or a socket directory
    port: str = ""
    name: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def from_settings(cls, settings_dict: dict, kind: str | None = None) -> Database:
        engine = settings_dict["ENGINE"]
        actual = "sqlite" if "sqlite" in engine else "pgsql"
        kind = kind or actual
        if kind != actual:  # configuration for the other database: placeholders
            if kind == "sqlite":
                return cls("sqlite", path="/srv/mailadmin/db.sqlite3")
            return cls("pgsql", host="127.0.0.1", port="5432", name="mailadmin", user="mailadmin")
        if kind == "sqlite":
            return cls("sqlite", path=str(settings_dict["NAME"]))
        return cls(
            "pgsql",
            host=settings_dict.get("HOST") or "localhost",
            port=str(settings_dict.get("PORT") or ""),
            name=settings_dict["NAME"],
            user=settings_dict.get("USER") or "",
            password=settings_dict.get("PASSWORD") or "",
        )


def postfix_map(db: Database, query: str) -> str:
    if db.kind == "sqlite":
        head = f"dbpath = {db.path}\n"
    else:
        if db.host.startswith("/"):  # a socket directory
            host = f"unix:{db.host}"
        else:
            host = f"{db.host}:{db.port}" if db.port else db.host
        head = f"hosts = {host}\nuser = {db.user}\n"
        if db.password:
            head += f"password = {db.password}\n"
        head += f"dbname = {db.name}\n"
    return head + f"query = {query}\n"


def _dovecot_connect(db: Database) -> str:
    if db.kind == "sqlite":
        return db.path
    parts = [f"host={db.host}"]
    if db.port:
        parts.append(f"port={db.port}")
    parts += [f"dbname={db.name}", f"user={db.user}"]
    if db.password:
        parts.append(f"password={db.password}")
    return " ".join(parts)


def config_files(
    db: Database,
    *,
    domain: str | None = None,
    dovecot: str = "2.3",
    mail_root: str = MAIL_ROOT,
) -> list[tuple[str, str]]:
    """(path, content) of every file to install, in the order to read them."""
    lookup = db.kind
    maps = {
        "virtual_mailbox_domains": postfix_domains_query(domain),
        "virtual_mailbox_maps": postfix_mailbox_query(domain),
        "virtual_alias_maps": postfix_alias_query(domain),
    }
    files = [(f"{POSTFIX_DIR}/{name}.cf", postfix_map(db, q)) for name, q in maps.items()]
    main_cf = "".join(f"{name} = {lookup}:{POSTFIX_DIR}/{name}.cf\n" for name in maps) + (
        "# Delivery through Dovecot's LMTP; '+' separates the folder of a\n"
        "# sub-account (owner+INBOX.<folder>@domain) and must not be re-added\n"
        "# by alias expansion.\n"
        "virtual_transport = lmtp:unix:private/dovecot-lmtp\n"
        "recipient_delimiter = +\n"
        "propagate_unmatched_extensions = canonical\n"
        "# SMTP AUTH by Dovecot (smtpd then logs sasl_username= for import_maillog).\n"
        "smtpd_sasl_type = dovecot\n"
        "smtpd_sasl_path = private/auth\n"
        "smtpd_sasl_auth_enable = yes\n"
        "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,"
        " reject_unauth_destination\n"
    )
    files.append(("/etc/postfix/main.cf (add these lines)", main_cf))
    if dovecot == "2.3":
        files.append(
            (
                DOVECOT_SQL_FILE,
                f"driver = {db.kind}\n"
                f"connect = {_dovecot_connect(db)}\n"
                f"password_query = {dovecot_password_query('2.3', domain)}\n"
                f"user_query = {dovecot_user_query('2.3', domain, mail_root)}\n"
                f"iterate_query = {dovecot_iterate_query(domain)}\n",
            )
        )
        files.append((DOVECOT_CONF_FILE, _dovecot_conf_23(mail_root)))
    else:
        files.append(
            (
                f"{DOVECOT_CONF_FILE} (Dovecot 2.4: the queries)",
                "# The SQL driver and connection: see Dovecot 2.4's sql settings\n"
                f"# (sql_driver = {db.kind}, then the {db.kind} connection settings).\n"
                "passdb sql {\n"
                f"  query = {dovecot_password_query('2.4', domain)}\n"
                "}\n"
                "userdb sql {\n"
                f"  query = {dovecot_user_query('2.4', domain, mail_root)}\n"
                f"  iterate_query = {dovecot_iterate_query(domain)}\n"
                "}\n"
                "recipient_delimiter = +\n"
                "lmtp_save_to_detail_mailbox = yes\n"
                "lda_mailbox_autocreate = yes\n"
                "lda_mailbox_autosubscribe = yes\n",
            )
        )
    return files


def _dovecot_conf_23(mail_root: str) -> str:
    return f"""\
# Users and passwords from the mailadmin database (the queries honour
# suspension, POP3/SMTP switched off and the mail-only password).
auth_mechanisms = plain login
passdb {{
  driver = sql
  args = {DOVECOT_SQL_FILE}
}}
userdb {{
  driver = sql
  args = {DOVECOT_SQL_FILE}
}}
# One Maildir++ per account: {mail_root}/<domain>/<ID>/ (the userdb's home),
# owned by the vmail user.
mail_location = maildir:~
mail_uid = vmail
mail_gid = vmail
# Sub-account mail arrives as owner+INBOX.<folder>@domain: store it in that
# folder, creating it on first delivery.
recipient_delimiter = +
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
protocol lmtp {{
  lmtp_save_to_detail_mailbox = yes
}}
service lmtp {{
  unix_listener /var/spool/postfix/private/dovecot-lmtp {{
    mode = 0600
    user = postfix
    group = postfix
  }}
}}
# Postfix asks Dovecot to check SMTP AUTH passwords (service "smtp").
service auth {{
  unix_listener /var/spool/postfix/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""


def render(files: list[tuple[str, str]]) -> str:
    """The files as one text; each starts with a ``# ==> path <==`` line."""
    return "\n".join(f"# ==> {path} <==\n{content}" for path, content in files)
