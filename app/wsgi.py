"""WSGI entry point (gunicorn app.wsgi, set up by gunicorn.conf.py) with the chunked-body cap."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
django_application = get_wsgi_application()

from app.middleware import ChunkedBodyLimit  # noqa: E402 - needs the settings set up above

application = ChunkedBodyLimit(django_application)
