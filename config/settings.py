"""Settings, driven by the environment (12-factor). Nothing here is a secret in production.

DATABASE_URL             default: SQLite file var/medassist.sqlite3
MEDASSIST_REFERENCE_DIR  default: ../shared/reference (beside the repository)
MEDASSIST_SECRET_KEY     default: a key generated once into var/secret_key
MEDASSIST_DEBUG          default: off
MEDASSIST_IDLE_TIMEOUT_MINUTES  default: 15 (ONC 170.315(d)(5) automatic access time-out)
"""

import datetime as _dt
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MEDASSIST_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    if key := os.environ.get("MEDASSIST_SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("MEDASSIST_DEBUG")
ALLOWED_HOSTS = os.environ.get("MEDASSIST_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(
    ","
)

REFERENCE_DIR = Path(
    os.environ.get("MEDASSIST_REFERENCE_DIR", BASE_DIR.parent / "shared" / "reference")
).resolve()

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "ninja",
    "medassist.core",
    "medassist.access",
    "medassist.clinics",
    "medassist.audit",
    "medassist.patients",
    "medassist.encounters",
    "medassist.scheduling",
    "medassist.flow",
    "medassist.rooming",
    "medassist.vitals",
    "medassist.immunizations",
    "medassist.labs",
    "medassist.poct",
    "medassist.hl7",
    "medassist.events",
    "medassist.history",
    "medassist.fhir",
    "medassist.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "medassist.access.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "medassist.core.middleware.IdleTimeoutMiddleware",
    "medassist.core.middleware.RequireMFAMiddleware",
    "medassist.core.middleware.NoStoreMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "medassist.core.context_processors.workstation",
                "medassist.access.context_processors.permissions",
            ],
        },
    },
    {
        # Only for templates asked for with using="jinja2" (the flow board's rows): see
        # medassist/core/jinja.py. Looks in each app's jinja2/ folder.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "medassist.core.jinja.environment"},
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'medassist.sqlite3'}"),
        conn_max_age=int(os.environ.get("MEDASSIST_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed while the audit trail is being written.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    # Tests run on a file too, as production does: an in-memory database shared between
    # threads reports "table is locked" at once instead of waiting its turn, so concurrency
    # tests could not run against the locking a clinic really gets.
    # One file per test run (two runs at once must not share it); removed when the run ends.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Django's default hasher is PBKDF2-SHA256 (NIST SP 800-132); left as is on purpose.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login lock-out after repeated failures (ONC 170.315(d)(1)); django-axes.
AXES_FAILURE_LIMIT = int(os.environ.get("MEDASSIST_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("MEDASSIST_LOGIN_COOLOFF_HOURS", "0.5"))
# Per account, not per address: a clinic's workstations often share one public address, and
# locking the address would lock out the whole clinic.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _env_bool("MEDASSIST_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
IDLE_TIMEOUT_SECONDS = int(float(os.environ.get("MEDASSIST_IDLE_TIMEOUT_MINUTES", "15")) * 60)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy: everything is served from here; no inline script, no CDN.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

OTP_TOTP_ISSUER = "medassist"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("MEDASSIST_TIME_ZONE", "America/Chicago")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MEDASSIST_LOG_LEVEL", "WARNING")},
}

# Emergency ("break the glass") access lasts this long, then must be asked for again.
EMERGENCY_ACCESS_MINUTES = int(os.environ.get("MEDASSIST_EMERGENCY_ACCESS_MINUTES", "240"))

# FHIR: the identifier system of this clinic network's medical record numbers. Set it to a URI
# (or urn:oid:) the organization controls; the default is a placeholder fit for the demo only.
FHIR_MRN_SYSTEM = os.environ.get(
    "MEDASSIST_FHIR_MRN_SYSTEM", "https://medassist.example/fhir/sid/mrn"
)

# The clinic day. The flow board asks the server for changes this often (seconds).
FLOW_BOARD_POLL_SECONDS = int(os.environ.get("MEDASSIST_FLOW_BOARD_POLL_SECONDS", "5"))
# Consent forms at check-in: the financial policy is signed again after this many days; the
# notice of privacy practices is acknowledged once, and again after the clinic revises it on
# MEDASSIST_PRIVACY_NOTICE_DATE (YYYY-MM-DD; 45 CFR 164.520(c)(2)(ii)).
FINANCIAL_POLICY_DAYS = int(os.environ.get("MEDASSIST_FINANCIAL_POLICY_DAYS", "365"))
PRIVACY_NOTICE_DATE = (
    _dt.date.fromisoformat(os.environ["MEDASSIST_PRIVACY_NOTICE_DATE"])
    if os.environ.get("MEDASSIST_PRIVACY_NOTICE_DATE")
    else None
)
