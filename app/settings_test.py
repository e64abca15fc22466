"""Settings for the test suite: production settings (DEBUG off) with a throwaway key, no HTTPS."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-deployment")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")

from app.settings import *  # noqa: F403

# Fast hashing: tests create many users; production keeps Django's default hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The test client's login() passes no request, which django-axes needs; the lock-out tests turn
# it on (tests/test_logins.py). Throttle counts would pile up across the whole run in the one
# process cache; the throttling tests set rates of their own.
AXES_ENABLED = False
API_THROTTLE_RATES = {"anon": "off", "user": "off"}

# The suite renders pages without running collectstatic first; the served-app tests
# (tests/test_deploy_served.py) check the hashed, compressed files under gunicorn.
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405 - WhiteNoise warns when it is missing
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
