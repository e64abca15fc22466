"""Loading prompt sets with model outputs, and importing judgments made elsewhere, into a study."""

from annotations.services.loading.errors import MAX_REPORTED, LoadError, Problem
from annotations.services.loading.judgments import EXT_PREFIX, ImportSummary, judgments_import
from annotations.services.loading.prompts import LoadSummary, derive_key, prompt_set_load

__all__ = [
    "EXT_PREFIX",
    "MAX_REPORTED",
    "ImportSummary",
    "LoadError",
    "LoadSummary",
    "Problem",
    "derive_key",
    "judgments_import",
    "prompt_set_load",
]
