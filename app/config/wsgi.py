"""The WSGI entry point: only for the gunicorn-sync contender of `make bench` (the stack
itself runs on ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
