"""Lookup queries and configuration that wire Postfix and Dovecot to the
product's database.

Postfix asks four questions, each a ``sqlite:`` or ``pgsql:`` lookup table
(read through ``proxy:``):

- ``virtual_mailbox_domains``: is ``%s`` an office's domain?
- ``virtual_mailbox_maps``: the primary address of an account that has a
  mailbox → its Maildir, ``domain/login_id/`` (under ``/var/vmail``);
- ``virtual_alias_maps``: a sub-account's address → the owner's address with
  the sub-account's folder as the extension, ``owner+INBOX.<folder>@domain``.
  Dovecot's LMTP (``recipient_delimiter = +``,
  ``lmtp_save_to_detail_mailbox = yes``) stores such mail in the detail
  mailbox ``INBOX.<folder>``: the sub-account's folder inside the owner's
  inbox. A deleted sub-account has no row, so its address is unknown again.
- ``smtpd_sender_login_maps``: an address → the login that owns it, for
  ``reject_sender_login_mismatch``.

Before those, a ``regexp:`` table refuses recipients with an extension (the
``+`` that only Postfix's own rewriting may add), and Dovecot's
quota-status service answers whether a message of the declared size fits.

Dovecot asks two (``passdb`` and ``userdb``, driver ``sql``). The password
query honours what the admin sets in the product: a suspended account gets
no row; POP3 (service ``pop3``) or SMTP (``smtp`` from Postfix's SASL,
``submission`` from Dovecot's own) switched off gets no row for that
protocol; with a mail-only password set, POP3 and SMTP are given only that
hash, other services (IMAP) the account password. Group and shared mail
cannot sign in, as on the web. The user query also answers for a
sub-account's address (with the owner's mailbox), since quota-status asks
about the recipient Postfix was given.

With the Dovecot mail store the conf.d snippet also opens doveadm's HTTP
API to the console and has quota_clone write every user's usage into the
console's ``mailserver_mailusage`` table (see mailserver/migrations/0001).
A deleted user (kept, restorable, until it is purged) is in no answer at
all: its addresses, its sub-accounts' and its logins are unknown.

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

# Dovecot 2.3's variables (Debian 12's Dovecot; the only version the
# printed configuration is tested against).
DOVECOT_VARIABLES = {"service": "%s", "username": "%n", "domain": "%d"}
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


def postfix_sender_login_query(domain: str | None = None) -> str:
    """``smtpd_sender_login_maps``: an address of the office → the login
    that may use it as the envelope sender. Every address has one owner
    (the account itself, or the owner of a sub-account), so with
    ``reject_sender_login_mismatch`` an account may send as its own and its
    sub-accounts' addresses and nobody else may (not even from the host)."""
    return (
        f"SELECT a.email FROM {ADDRESS} ad"
        f" JOIN {OFFICE} o ON o.id = ad.office_id"
        f" JOIN {ACCOUNT} a ON a.id = ad.account_id AND a.deleted_at IS NULL"
        f" WHERE o.domain = LOWER('%d') AND LOWER(ad.local_part) = LOWER('%u')"
        + _office_filter(domain)
    )


# Postfix's check_recipient_access table: a recipient with an extension
# (``owner+anything@``) comes from a client, never from our own rewriting
# (which happens after this check), and would let anyone create folders in
# a mailbox or write into its Trash through Dovecot's detail delivery.
EXTENSION_GUARD = "/^[^@]*\\+/ 550 5.1.1 Address extensions are not accepted here\n"


# --- Dovecot ---------------------------------------------------------------


def dovecot_password_query(domain: str | None = None) -> str:
    v = DOVECOT_VARIABLES
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


def dovecot_user_query(domain: str | None = None, mail_root: str = MAIL_ROOT) -> str:
    """The mailbox of any address of the office: an account's own address
    or one of its sub-accounts' (whose mail lives in the owner's mailbox),
    answered with the owner's primary address as the user name. Dovecot's
    quota-status service asks about the recipient Postfix was given, which
    may be a sub-account's address; the user name is also the key of the
    usage rows quota_clone writes."""
    v = DOVECOT_VARIABLES
    return (
        f"SELECT a.email AS user,"
        f" '{mail_root.rstrip('/')}/' || o.domain || '/' || a.login_id AS home,"
        f" '*:bytes=' || COALESCE(m.quota_bytes, 0) AS quota_rule"
        f" FROM {ADDRESS} ad"
        f" JOIN {OFFICE} o ON o.id = ad.office_id"
        f" JOIN {ACCOUNT} a ON a.id = ad.account_id"
        f" JOIN {MAILBOX} m ON m.account_id = a.id AND a.deleted_at IS NULL"
        f" WHERE o.domain = LOWER('{v['domain']}') AND LOWER(ad.local_part) = LOWER('{v['username']}')"
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
    servers are given. ``values`` maps a variable (``%u``, ``%n`` …) to its
    value."""
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


# The vmail user of README "Mail servers" (uid and gid 5000); where the host
# has a vmail user already, its own ids are printed instead.
VMAIL_USER = "vmail"
VMAIL_ID = 5000
DOVECOT_DICT_FILE = "/etc/dovecot/mailadmin-dict-sql.conf.ext"
POSTFIX_SPOOL = "/var/spool/postfix"
USAGE_TABLE = "mailserver_mailusage"


def vmail_ids() -> tuple[int, int]:
    """(uid, gid) of the vmail user on this host, or README's 5000."""
    import grp
    import pwd

    try:
        uid = pwd.getpwnam(VMAIL_USER).pw_uid
    except KeyError:
        return VMAIL_ID, VMAIL_ID
    try:
        gid = grp.getgrnam(VMAIL_USER).gr_gid
    except KeyError:
        gid = pwd.getpwnam(VMAIL_USER).pw_gid
    return uid, gid


@dataclass(frozen=True)
class Doveadm:
    """The doveadm HTTP listener the console talks to (``DOVEADM_URL``)."""

    address: str
    port: int
    api_key: str

    @classmethod
    def from_url(cls, url: str, api_key: str) -> Doveadm:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.path.rstrip("/") != "/doveadm/v1":
            raise ValueError(
                f"DOVEADM_URL must look like http://127.0.0.1:8080/doveadm/v1 (got {url!r})."
            )
        if not api_key or not all(c.isalnum() or c in "-_.~+/=" for c in api_key):
            # Dovecot's configuration would expand a '$' or '%' in the value.
            raise ValueError(
                "DOVEADM_API_KEY must be set, made of letters, digits and - _ . ~ + / =."
            )
        address = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
        return cls(address=address, port=parts.port or 80, api_key=api_key)


def config_files(
    db: Database,
    *,
    domain: str | None = None,
    mail_root: str = MAIL_ROOT,
    doveadm: Doveadm | None = None,
    vmail: tuple[int, int] = (VMAIL_ID, VMAIL_ID),
) -> list[tuple[str, str]]:
    """(path, content) of every file to install, in the order to read them.

    With ``doveadm`` (the Dovecot mail store) Dovecot also listens for the
    console's doveadm HTTP requests and writes every user's usage into the
    console's database (quota_clone)."""
    lookup = db.kind
    maps = {
        "virtual_mailbox_domains": postfix_domains_query(domain),
        "virtual_mailbox_maps": postfix_mailbox_query(domain),
        "virtual_alias_maps": postfix_alias_query(domain),
        "sender_login_maps": postfix_sender_login_query(domain),
    }
    files = [(f"{POSTFIX_DIR}/{name}.cf", postfix_map(db, q)) for name, q in maps.items()]
    guard = f"{POSTFIX_DIR}/extension_guard.regexp"
    files.append((guard, EXTENSION_GUARD))
    # Through proxymap: Debian runs smtpd and cleanup chrooted, where the
    # SQLite file (and its WAL files) are out of reach; one process also
    # holds the database connections instead of every smtpd.
    main_cf = (
        "# Lookups in the mailadmin database.\n"
        + "".join(
            f"{name} = proxy:{lookup}:{POSTFIX_DIR}/{name}.cf\n"
            for name in ("virtual_mailbox_domains", "virtual_mailbox_maps", "virtual_alias_maps")
        )
        + "# Delivery through Dovecot's LMTP; '+' separates the folder of a\n"
        "# sub-account (owner+INBOX.<folder>@domain) and must not be re-added\n"
        "# by alias expansion.\n"
        "virtual_transport = lmtp:unix:private/dovecot-lmtp\n"
        "recipient_delimiter = +\n"
        "propagate_unmatched_extensions = canonical\n"
        "# SMTP AUTH by Dovecot (smtpd then logs sasl_username= for import_maillog).\n"
        "smtpd_sasl_type = dovecot\n"
        "smtpd_sasl_path = private/auth\n"
        "smtpd_sasl_auth_enable = yes\n"
        "# Who may use an address as the sender: its account, for its own and its\n"
        "# sub-accounts' addresses. Checked (with the refusal of '+extension'\n"
        "# recipients) before permit_mynetworks, so mail from this host too.\n"
        f"smtpd_sender_login_maps = proxy:{lookup}:{POSTFIX_DIR}/sender_login_maps.cf\n"
        "smtpd_relay_restrictions = reject_sender_login_mismatch,\n"
        f"    check_recipient_access regexp:{guard},\n"
        "    permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination\n"
        "# Over quota: refused at RCPT (on the SIZE= the client declares) by\n"
        "# Dovecot's quota-status service, never accepted and then bounced.\n"
        "smtpd_recipient_restrictions = check_policy_service unix:private/quota-status\n"
    )
    files.append(("/etc/postfix/main.cf (add these lines)", main_cf))
    files.append(
        (
            DOVECOT_SQL_FILE,
            f"driver = {db.kind}\n"
            f"connect = {_dovecot_connect(db)}\n"
            f"password_query = {dovecot_password_query(domain)}\n"
            f"user_query = {dovecot_user_query(domain, mail_root)}\n"
            f"iterate_query = {dovecot_iterate_query(domain)}\n",
        )
    )
    if doveadm:
        files.append((DOVECOT_DICT_FILE, _dovecot_dict_sql(db)))
    files.append((DOVECOT_CONF_FILE, _dovecot_conf(mail_root, vmail, doveadm, db)))
    return files


def _dovecot_dict_sql(db: Database) -> str:
    # quota_clone sets priv/quota/storage and priv/quota/messages in one
    # transaction: dict-sql writes them as one upsert of the user's row.
    maps = "".join(
        "map {\n"
        f"  pattern = priv/quota/{key}\n"
        f"  table = {USAGE_TABLE}\n"
        "  username_field = username\n"
        f"  value_field = {column}\n"
        "  value_type = uint\n"
        "}\n"
        for key, column in (("storage", "bytes"), ("messages", "messages"))
    )
    return f"connect = {_dovecot_connect(db)}\n" + maps


def _dovecot_conf(
    mail_root: str, vmail: tuple[int, int], doveadm: Doveadm | None, db: Database
) -> str:
    uid, gid = vmail
    if doveadm:
        autocreate, autocreate_why = (
            "no",
            (
                "The console creates the folder with the\n# sub-account; mail still "
                "queued for a deleted one goes to INBOX."
            ),
        )
    else:
        autocreate, autocreate_why = "yes", "Created on first delivery."
    conf = f"""\
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
# owned by the vmail user ({uid}:{gid}, README "Mail servers"): the only
# uid and gid mail processes may run as.
mail_location = maildir:~
mail_uid = {VMAIL_USER}
mail_gid = {VMAIL_USER}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
# Sub-account mail arrives as owner+INBOX.<folder>@domain: store it in that
# folder. {autocreate_why}
recipient_delimiter = +
lda_mailbox_autocreate = {autocreate}
lda_mailbox_autosubscribe = yes
protocol lmtp {{
  lmtp_save_to_detail_mailbox = yes
}}
# The standard folders (the console's too), subscribed for every client.
namespace inbox {{
  mailbox Drafts {{
    auto = subscribe
  }}
  mailbox Sent {{
    auto = subscribe
  }}
  mailbox Junk {{
    auto = subscribe
  }}
  mailbox Trash {{
    auto = subscribe
  }}
}}
service lmtp {{
  unix_listener {POSTFIX_SPOOL}/private/dovecot-lmtp {{
    mode = 0600
    user = postfix
    group = postfix
  }}
}}
# Postfix asks Dovecot to check SMTP AUTH passwords (service "smtp").
service auth {{
  unix_listener {POSTFIX_SPOOL}/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
# Quota: the console's quota (userdb quota_rule; 0 = unlimited), counted by
# Dovecot itself. The quota is the limit: no grace for the last message.
mailbox_list_index = yes
mail_plugins = $mail_plugins quota{" quota_clone" if doveadm else ""}
plugin {{
  quota = count:User quota
  quota_vsizes = yes
  quota_grace = 0
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = "552 5.2.2 Mailbox is full"
}}
# Postfix asks at RCPT whether the message (its declared SIZE=) still fits.
service quota-status {{
  executable = quota-status -p postfix
  unix_listener {POSTFIX_SPOOL}/private/quota-status {{
    mode = 0600
    user = postfix
    group = postfix
  }}
  client_limit = 1
}}
"""
    if doveadm:
        conf += f"""\
# Every user's usage (bytes, messages) written into the console's
# {USAGE_TABLE} table after each change; the console's usage list shows it.
plugin {{
  quota_clone_dict = proxy::mailadmin
}}
dict {{
  mailadmin = {db.kind}:{DOVECOT_DICT_FILE}
}}
service dict {{
  unix_listener dict {{
    mode = 0660
    user = {VMAIL_USER}
    group = {VMAIL_USER}
  }}
}}
# The console's doveadm HTTP API (DOVEADM_URL, DOVEADM_API_KEY).
doveadm_api_key = {doveadm.api_key}
service doveadm {{
  inet_listener http {{
    address = {doveadm.address}
    port = {doveadm.port}
  }}
}}
"""
    return conf


def render(files: list[tuple[str, str]]) -> str:
    """The files as one text; each starts with a ``# ==> path <==`` line."""
    return "\n".join(f"# ==> {path} <==\n{content}" for path, content in files)
