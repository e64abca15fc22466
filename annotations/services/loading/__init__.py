"""Loading prompt sets with model outputs, and importing judgments made elsewhere, into a study."""

from annotations.services.loading.errors import MAX_REPORTED, LoadError, Problem
from annotations.services.loading.prompts import (
    LoadSummary,
    comparisons_create,
    derive_key,
    prompt_set_load,
)

__all__ = [
    "MAX_REPORTED",
    "LoadError",
    "LoadSummary",
    "Problem",
    "comparisons_create",
    "derive_key",
    "prompt_set_load",
]
