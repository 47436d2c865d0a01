"""Countersign settings, read from the environment (see .env.example).

One module for every environment: the defaults give a zero-setup local run on SQLite with the
django-q2 ORM broker; production sets DATABASE_URL, REDIS_URL, SECRET_KEY and DEBUG=false.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment (or .env), "
            "or set DEBUG=true for a local, non-production run."
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_q",
    "simple_history",
    "audit",
    "models_registry",
    "reviewapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "countersign.urls"
WSGI_APPLICATION = "countersign.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs a web server and a worker against one file: wait for the write lock
    # instead of failing, and take it at BEGIN so claims serialize cleanly.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/review/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "models_registry.authentication.ServiceKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Countersign API",
    "DESCRIPTION": (
        "Scoring services send every prediction here; Countersign checks it against the "
        "version's input contract, routes it to people or auto-accepts it, and records "
        "everything in a tamper-evident audit log."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PredictionStatusEnum": "reviewapp.models.PredictionStatus",
        "BatchRowStatusEnum": "reviewapp.api.serializers.BATCH_ROW_STATUSES",
        "VersionStatusEnum": "models_registry.models.VersionStatus",
    },
}

REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": "countersign",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 300,
    "retry": 360,
    "max_attempts": 3,
    "catch_up": False,
    "label": "Tasks",
    "poll": 1,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# How long an audit event waits before the sealer chains it: transactions that began before
# a later-numbered event may commit after it, and the chain must follow sequence order.
AUDIT_SEAL_GRACE_SECONDS = env.float("AUDIT_SEAL_GRACE_SECONDS", default=2.0)

# Owners' e-mail. EMAIL_URL (e.g. smtp+tls://user:password@smtp.example.com:587) sets the SMTP
# backend, host, port, login and TLS in one variable; without it mail goes to the console.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="countersign@localhost")
# A hung mail server must not outlast an alert notification's delivery lease (see
# models_registry.monitoring.alerts.delivery_lease), or a second worker would send it again.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Keyed hash for personal data shown masked in the reviewer UI and in exports.
PII_HASH_KEY = env.str("PII_HASH_KEY", default=SECRET_KEY)

# Decision webhooks (reviewapp/services/webhooks.py, docs/review.md): per-attempt timeout,
# exponential backoff (base doubling up to a cap) and how long to keep retrying before a
# delivery is marked dead (at least 24 hours).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=4 * 3600)
WEBHOOK_GIVE_UP_SECONDS = env.int("WEBHOOK_GIVE_UP_SECONDS", default=24 * 3600)

# Monitoring (docs/monitoring.md): baseline sample kept per upload, rows sampled per window for
# the KS/Wasserstein tests, rows read per chunk, snapshot windows, and the /metrics token.
MONITORING_BASELINE_SAMPLE_ROWS = env.int("MONITORING_BASELINE_SAMPLE_ROWS", default=50_000)
MONITORING_DRIFT_SAMPLE_ROWS = env.int("MONITORING_DRIFT_SAMPLE_ROWS", default=200_000)
MONITORING_CHUNK_SIZE = env.int("MONITORING_CHUNK_SIZE", default=20_000)
MONITORING_WINDOWS = env.list("MONITORING_WINDOWS", default=["hourly", "daily"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Compliance exports (docs/exports.md): where files and manifests are written, and the key that
# signs manifests. The default key is derived from SECRET_KEY; set EXPORT_SIGNING_KEY to a
# separate secret to hand auditors without handing them SECRET_KEY.
EXPORT_DIR = Path(env.str("EXPORT_DIR", default=str(BASE_DIR / "exports")))
EXPORT_SCHEDULE_DIR = Path(env.str("EXPORT_SCHEDULE_DIR", default=str(EXPORT_DIR / "monthly")))
EXPORT_SCHEDULE_FORMAT = env.str("EXPORT_SCHEDULE_FORMAT", default="parquet")
EXPORT_SIGNING_KEY = env.str("EXPORT_SIGNING_KEY", default="")
if not EXPORT_SIGNING_KEY:
    import hashlib as _hashlib
    import hmac as _hmac

    EXPORT_SIGNING_KEY = _hmac.new(
        SECRET_KEY.encode(), b"countersign export signing key", _hashlib.sha256
    ).hexdigest()

# --- Retraining (docs/retraining.md) ---
# How long an unacknowledged django-q2 task waits before the ORM broker hands it out again
# (a worker killed mid-task); the timeout must stay below it.
Q_CLUSTER["retry"] = env.int("Q_RETRY_SECONDS", default=Q_CLUSTER["retry"])
Q_CLUSTER["timeout"] = env.int("Q_TIMEOUT_SECONDS", default=Q_CLUSTER["timeout"])
# Where the training-label Parquet files are written (labels_uri and email links are built
# on SITE_URL, above).
RETRAINING_LABELS_DIR = Path(
    env.str("RETRAINING_LABELS_DIR", default="") or BASE_DIR / "var" / "labels"
)
RETRAINING_WEBHOOK_TIMEOUT_SECONDS = env.float("RETRAINING_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
RETRAINING_WEBHOOK_MAX_ATTEMPTS = env.int("RETRAINING_WEBHOOK_MAX_ATTEMPTS", default=6)
RETRAINING_WEBHOOK_BACKOFF_SECONDS = env.int("RETRAINING_WEBHOOK_BACKOFF_SECONDS", default=30)
