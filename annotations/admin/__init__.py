"""Django admin pages: studies, models and prompts (studies.py), users (users.py), the uploads,
and quality control (quality.py)."""

from annotations.admin import quality, studies, users

__all__ = ["quality", "studies", "users"]
