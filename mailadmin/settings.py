"""mailadmin settings: one file, driven by the environment.

Development defaults (DEBUG on, embedded SQLite) need no variables at all.
Production sets DEBUG=0, SECRET_KEY, ALLOWED_HOSTS and usually DATABASE_URL.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "django-insecure-development-only-key-not-for-production-use-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    # Sessions live in accounts.AccountSession (SESSION_ENGINE below); Django's
    # table stays for the migrations that move sessions in and out of it.
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "csp",
    # Two-factor sign-in for admins: TOTP devices and single-use recovery
    # codes (accounts/two_factor.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Country names (with their Korean catalogue) for the access history.
    "django_countries",
    "accounts",
    "subaccounts",
    "mailserver",
    "reports",
]
# The demo office (`seed_demo`, which `make run` uses) and the benchmark
# (`bench`) live in their own app, on by default; production leaves them out
# with MAILADMIN_DEVTOOLS=0. The product apps never import it.
MAILADMIN_DEVTOOLS = env_bool("MAILADMIN_DEVTOOLS", True)
if MAILADMIN_DEVTOOLS:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything below, so it also marks their own answers
    # (CSRF refusals, lockouts, redirects).
    "mailadmin.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "mailadmin.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, taking the signed-in account from the session's row
    # (accounts/sessions.py) instead of a query of its own.
    "mailadmin.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "mailadmin.middleware.SessionIdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a lockout flagged during authenticate() into our response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mailadmin.urls"
WSGI_APPLICATION = "mailadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.office",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
    # The hot row templates (the usage list's rows, the pane's access
    # history, in each app's jinja2/ directory): Jinja2 compiles them to
    # Python functions, as fast as the Python-built markup they replace.
    # Only code that asks for this engine by name uses it; pages are Django
    # templates.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "mailadmin.jinja_env.environment", "autoescape": True},
    },
]

# Form widgets (the audit log's filters, the user forms) are rendered from
# Django's own Jinja2 widget templates: through the Django template engine
# the audit log's filter form (its 28-option action select most of it)
# took 5.5 ms of the page, now 1.7 ms. The HTML is the same but for blank
# lines and how a quote in a value is written (&#34; for &quot;, &#39; for
# &#x27;: the same characters to a browser).
FORM_RENDERER = "django.forms.renderers.Jinja2"

# Databases: embedded SQLite unless DATABASE_URL says otherwise.
SQLITE_PATH = os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{SQLITE_PATH}", conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60"))
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so a transaction that reads
    # then writes (the services lock-then-change) never fails half way with
    # "database is locked"; the timeout lets writers queue instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_PATH") or None}
else:
    DATABASES["default"].setdefault("TEST", {})
    if os.environ.get("TEST_DATABASE_NAME"):
        DATABASES["default"]["TEST"]["NAME"] = os.environ["TEST_DATABASE_NAME"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.Account"
AUTHENTICATION_BACKENDS = [
    # First: refuses every attempt while an ID + address pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the account with its office (or taking
    # it from the session's row, which brings both: accounts/sessions.py).
    "accounts.backends.AccountBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/"

# Login throttling (guessing passwords must stay slow): after AXES_FAILURE_LIMIT failures for one
# full address (ID@domain, so the office is part of the key) from one IP, that
# pair is refused for the cool-off period; other IDs and other addresses are
# unaffected. The login view renders the refusal itself (429).
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_CLIENT_IP_CALLABLE = "accounts.audit.client_ip"
AXES_RESET_ON_SUCCESS = True
# A fixed cool-off: refused attempts during a lockout do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.views.auth.lockout_response"
AXES_ENABLE_ADMIN = False
# Successful logins are in our own audit log; no second, ever-growing table.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# Beside it, per IP (accounts/throttle.py): LOGIN_IP_FAILURE_LIMIT failed
# sign-ins from one IP within LOGIN_IP_COOLOFF_MINUTES, whatever the IDs,
# lock that IP for as long; IDs no account has are counted there too (one
# row per IP, not one per made-up ID).
LOGIN_IP_FAILURE_LIMIT = int(os.environ.get("LOGIN_IP_FAILURE_LIMIT", "30"))
LOGIN_IP_COOLOFF = timedelta(minutes=int(os.environ.get("LOGIN_IP_COOLOFF_MINUTES", "15")))

# Two-factor sign-in (accounts/two_factor.py). Wrong codes count towards
# the per-ID and per-IP locks above, which bound guessing; django-otp's own
# per-device back-off would refuse even the right code for a while after a
# typo, so it is off.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0


def OTP_TOTP_ISSUER(device) -> str:  # noqa: N802 - a setting django-otp calls
    """What authenticator apps list the entry under: the office's name."""
    return device.user.office.name


# How long the code step waits after a right password.
MAILADMIN_TWO_FACTOR_STEP_SECONDS = 300

# Internationalisation: Korean first, English by choice (never by Accept-Language).
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LANGUAGE_COOKIE_NAME = "mailadmin_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Seoul"

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "data" / "media"))

# Idle timeout (mailadmin.middleware.SessionIdleTimeoutMiddleware): signed out
# after this many seconds without a request; the last-seen time is re-saved
# at most once per SESSION_IDLE_RESOLUTION seconds (no write per request).
SESSION_IDLE_SECONDS = int(os.environ.get("SESSION_IDLE_SECONDS", str(8 * 3600)))
SESSION_IDLE_RESOLUTION = max(1, min(60, SESSION_IDLE_SECONDS // 10))
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS + SESSION_IDLE_RESOLUTION
# Django's database sessions, the signed-in account in a column of the row:
# a signed-in page reads the session, its account and the office in one
# statement (accounts/sessions.py). `clearsessions` deletes expired rows.
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# Content Security Policy, enforced (not report-only) in every environment so
# the browser tests see violations as console errors: no inline script or
# style anywhere (behaviour lives in static/js, styles in static/css, htmx
# runs with includeIndicatorStyles and allowEval off).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    # __Host- cookies are bound to this host over HTTPS: a sibling subdomain
    # cannot plant or overwrite them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    LANGUAGE_COOKIE_NAME = "__Host-" + LANGUAGE_COOKIE_NAME
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# The product's own knobs.
MAILADMIN_SUBACCOUNT_LIMIT = 5
# Where the mail lives (accounts/mailstore.py): "db", the embedded store in
# this database (demo, `make run`, fast tests), or a dotted path to a store.
MAIL_STORE = os.environ.get("MAIL_STORE", "db")
MAILADMIN_PAGE_SIZES = (20, 50, 100)
MAILADMIN_ACCESS_WINDOW_MONTHS = 3
# Sign-in flags (accounts/access_flags.py): a country is "known" for an
# account when it signed in from there within these days; this many failed
# sign-ins within the seconds below are a burst.
MAILADMIN_ACCESS_KNOWN_COUNTRY_DAYS = 90
MAILADMIN_ACCESS_BURST_FAILURES = 10
MAILADMIN_ACCESS_BURST_SECONDS = 600

# Background work (big roster exports): django-tasks with its database
# backend; `manage.py db_worker` runs the queue (`make run` starts one).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A roster export of more rows than this runs in the background with a
# progress bar; smaller ones stay a direct download.
MAILADMIN_EXPORT_BACKGROUND_ROWS = int(os.environ.get("MAILADMIN_EXPORT_BACKGROUND_ROWS", "5000"))
# A bulk action (suspend, POP3/SMTP, quota) on more accounts than this runs
# in the background with a progress bar; smaller ones are one transaction in
# the request. The pause (seconds) after each chunk spares a busy database.
MAILADMIN_BULK_BACKGROUND_ROWS = int(os.environ.get("MAILADMIN_BULK_BACKGROUND_ROWS", "5000"))
MAILADMIN_BULK_CHUNK_PAUSE = float(os.environ.get("MAILADMIN_BULK_CHUNK_PAUSE", "0"))
# How long a background export's file can be fetched (then `prune_exports`
# deletes it).
MAILADMIN_EXPORT_TTL_SECONDS = int(os.environ.get("MAILADMIN_EXPORT_TTL_SECONDS", str(24 * 3600)))
# Rows written between two progress updates, and an optional pause after
# each such chunk (seconds) to spare a busy database.
MAILADMIN_EXPORT_PROGRESS_ROWS = int(os.environ.get("MAILADMIN_EXPORT_PROGRESS_ROWS", "2000"))
MAILADMIN_EXPORT_CHUNK_PAUSE = float(os.environ.get("MAILADMIN_EXPORT_CHUNK_PAUSE", "0"))

# Background jobs that lose their worker (killed, machine gone): a running
# job touches its heartbeat every MAILADMIN_JOB_HEARTBEAT_SECONDS; one whose
# heartbeat is older than MAILADMIN_JOB_STALE_SECONDS is started again from
# scratch by another worker, at most MAILADMIN_JOB_MAX_RETRIES times, then
# marked failed.
MAILADMIN_JOB_HEARTBEAT_SECONDS = float(os.environ.get("MAILADMIN_JOB_HEARTBEAT_SECONDS", "10"))
MAILADMIN_JOB_STALE_SECONDS = float(os.environ.get("MAILADMIN_JOB_STALE_SECONDS", "60"))
MAILADMIN_JOB_MAX_RETRIES = int(os.environ.get("MAILADMIN_JOB_MAX_RETRIES", "2"))

# Argon2id first: Dovecot verifies Django's Argon2id hashes natively
# ({ARGON2ID}, see accounts/mailserver.py and README "Mail servers"), so POP3
# and SMTP accept the same passwords as the web. Older PBKDF2 hashes still
# verify here and are re-hashed with Argon2id at the next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# Where the mail itself lives: "db" keeps it in this database (the embedded
# default: demo, `make run`, most tests); "dovecot" makes Dovecot the mail
# store, driven through its doveadm HTTP API (DOVEADM_URL, e.g.
# http://127.0.0.1:8080/doveadm/v1, and DOVEADM_API_KEY), with usage rows
# written by Dovecot's quota_clone (README "Mail servers").
MAIL_STORE = os.environ.get("MAIL_STORE", "db")
if MAIL_STORE not in ("db", "dovecot"):
    raise ImproperlyConfigured("MAIL_STORE must be 'db' or 'dovecot'.")
DOVEADM_URL = os.environ.get("DOVEADM_URL", "")
DOVEADM_API_KEY = os.environ.get("DOVEADM_API_KEY", "")
DOVEADM_TIMEOUT = float(os.environ.get("DOVEADM_TIMEOUT", "10"))
if MAIL_STORE == "dovecot" and not (DOVEADM_URL and DOVEADM_API_KEY):
    raise ImproperlyConfigured("MAIL_STORE=dovecot needs DOVEADM_URL and DOVEADM_API_KEY.")
