"""Django admin pages: studies, models and prompts (studies.py), users (users.py), the uploads."""

from annotations.admin import studies, users

__all__ = ["studies", "users"]
