"""Settings: one module, every value read and typed from the environment (see .env.example)."""

from pathlib import Path

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env.required("SECRET_KEY", secret=True)
DEBUG = env.boolean("DEBUG", default=False)
# localhost and 127.0.0.1 are always allowed: the containers' own health checks use them, and a
# DNS-rebinding page cannot send them (its requests carry the attacker's host name).
ALLOWED_HOSTS = [*env.csv("ALLOWED_HOSTS", ""), "localhost", "127.0.0.1"]
CSRF_TRUSTED_ORIGINS = env.csv("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs' assets locally (no CDN)
    "core",
    "accounts",
    "items",
    "events",
    "bench",
]

MIDDLEWARE = [
    "core.middleware.ProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The middleware of /api/ and /bench/ with LEAN_API_HANDLER on (config/handler.py): natively
# async, no thread hop; the same protections minus sessions, users, CSRF and messages, which the
# API does not use.
LEAN_API_HANDLER = env.boolean("LEAN_API_HANDLER", default=True)

# The cyclic garbage collector's thresholds (gc.set_threshold: young, middle, oldest), set by
# config/asgi.py. CPython's default for the oldest, 10, runs a full collection every few seconds
# once requests outlive the young generations (10,000 clients waiting 10 s each: 1.2 million
# objects, 0.5-1 s per collection, a third of the app's CPU and a pause for every request).
# At 1,000 a full collection waits for a hundred times more young collections; cycles that die
# young are still collected by the young collections (docs/performance.md, tuning log).
GC_THRESHOLDS = env.integers("GC_THRESHOLDS", "2000,10,1000", count=3)
API_MIDDLEWARE = [
    "core.middleware.ProblemMiddleware",
    "core.middleware.InlineSecurityMiddleware",
]

# Writes to the API need an API token or a logged-in session (accounts.auth); reads need one
# too when this is false.
API_PUBLIC_READS = env.boolean("API_PUBLIC_READS", default=True)

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# The pool replaces persistent connections: CONN_MAX_AGE must stay 0 with it, and persistent
# connections are wrong under ASGI anyway (each request runs in its own thread). DB_POOL=false
# and CONN_MAX_AGE exist for `make bench`, to measure the setups people use instead.
# https://docs.djangoproject.com/en/6.1/ref/databases/#connection-pool
DB_POOL = env.boolean("DB_POOL", default=True)
CONN_MAX_AGE = env.integer("CONN_MAX_AGE", 0)
if DB_POOL and CONN_MAX_AGE:
    raise env.ConfigError("CONN_MAX_AGE", "must be 0 while DB_POOL is on")
DATABASE_OPTIONS: dict[str, object] = {
    # Bounds how long a request waits on an unreachable server (seconds).
    "connect_timeout": env.integer("DB_CONNECT_TIMEOUT", 3, minimum=1),
}
if DB_POOL:
    DATABASE_OPTIONS["pool"] = {
        "min_size": env.integer("DB_POOL_MIN_SIZE", 2),
        "max_size": env.integer("DB_POOL_MAX_SIZE", 10, minimum=1),
        # Seconds a request waits for a free connection before a 503.
        "timeout": env.number("DB_POOL_TIMEOUT", 5.0, minimum=0.1),
    }
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env.required("POSTGRES_HOST"),
        "PORT": env.integer("POSTGRES_PORT", 5432, minimum=1),
        "NAME": env.required("POSTGRES_DB"),
        "USER": env.required("POSTGRES_USER"),
        "PASSWORD": env.required("POSTGRES_PASSWORD", secret=True),
        "CONN_MAX_AGE": CONN_MAX_AGE,
        # With the pool, health checks make getconn() test a connection before handing it out,
        # so a restarted database costs no failed request.
        "CONN_HEALTH_CHECKS": env.boolean("DB_CONN_HEALTH_CHECKS", default=True),
        "OPTIONS": DATABASE_OPTIONS,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# nginx serves STATIC_ROOT (baked into its image); hashed names let it cache them for a year.
STATIC_URL = "/static/"
STATIC_ROOT = env.string("STATIC_ROOT", "/srv/static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}

# Behind nginx: it sets X-Forwarded-Proto, and the ASGI server (trusting nginx only) turns it
# into the request's scheme, so request.is_secure() is right without SECURE_PROXY_SSL_HEADER.
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", default=False)
# Probes reach the app over plain HTTP (its own healthcheck on :8000, nginx's on :8080).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0)
# Both reach beyond this site (every subdomain of its domain; the browsers' built-in preload
# list, hard to leave): the operator's decision, never a default. Declining them is a decision
# too, so `check --deploy` is not asked to warn about it (security.W005, W021).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.boolean("HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
SESSION_COOKIE_SECURE = env.boolean("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# A CSRF failure is a problem+json like every other client error.
CSRF_FAILURE_VIEW = "core.problems.csrf_failure"

# Limits on what a client may send (nginx enforces the body size first).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1)

# Realtime events (events/, docs/events.md): how many recent events each process keeps in
# memory (a subscriber further behind reads them from the table), the longest resume that is
# replayed (past it: a reset), how long events are kept, the SSE heartbeat, and how long a new
# subscriber waits for the process to be connected to the event log.
EVENTS_BUFFER_SIZE = env.integer("EVENTS_BUFFER_SIZE", 2000, minimum=1)
EVENTS_REPLAY_MAX = env.integer("EVENTS_REPLAY_MAX", 10_000, minimum=0)
EVENTS_RETENTION = env.duration("EVENTS_RETENTION", "24h")
EVENTS_HEARTBEAT_SECONDS = env.number("EVENTS_HEARTBEAT_SECONDS", 15.0, minimum=0.1)
EVENTS_READY_TIMEOUT = 5.0

# The TechEmpower views (bench/): async, or their sync twins for the WSGI contender.
BENCH_VIEWS = env.string("BENCH_VIEWS", "async")
if BENCH_VIEWS not in {"async", "sync"}:
    raise env.ConfigError("BENCH_VIEWS", f"must be async or sync, got {BENCH_VIEWS!r}")

ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"
# Name of the ASGI server this process runs under; the serve script sets it from ASGI_SERVER.
ASGI_SERVER = env.string("ASGI_SERVER", "unknown")

# Every log line to stdout: the container runtime collects it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": env.string("LOG_LEVEL", "INFO").upper()},
}
