"""Generators (models) of a study: name normalisation, creation, and plot metadata."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotations.models import Generator, Study

_UNSET: Any = object()

# A generator's size is a parameter count in a bigint column.
GENERATOR_SIZE_MAX = 2**63 - 1
GENERATOR_SIZE_RULE = f"a positive whole number of parameters, 1 to {GENERATOR_SIZE_MAX:,}"


def generator_name_key(name: str) -> str:
    """What two generator names must differ in to name two models of one study.

    Names that differ only by case, width or compatibility forms (NFKC), spacing (any run of
    white space is one space; ends are trimmed), or invisible format characters (zero-width
    and bidirectional controls: Unicode category Cf) are one model's name written twice. An
    empty key means the name has nothing visible.
    """
    visible = "".join(c for c in name if unicodedata.category(c) != "Cf")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", visible).casefold())
    return " ".join(folded.split())


def generator_name_clash(*, name: str, existing: str, where: str = "already in the study") -> str:
    """The message refusing `name` as a new model because it reads as `existing` (`where`)."""
    return (
        f"'{name}' differs from the model '{existing}' {where} only by case, spacing or "
        f"invisible characters: write '{existing}' for that model, or a distinct name"
    )


def generator_size_clean(value: Any) -> int:
    """`value` as a parameter count (7e9 from JSON is 7,000,000,000), else ValidationError."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= GENERATOR_SIZE_MAX
    ):
        if isinstance(value, str):
            shown = repr(value[:40])
        elif isinstance(value, int | float):
            shown = repr(value)
        else:
            shown = f"a {type(value).__name__}"
        raise ValidationError(f"must be {GENERATOR_SIZE_RULE}, not {shown}")
    return value


def generator_get_or_create(*, study: Study, name: str) -> Generator:
    """The study's generator called `name` (trimmed), made when there is none.

    Refuses (ValidationError on "name") a name with nothing visible, and a new name that
    generator_name_key() makes the same as an existing model's, naming that model.
    """
    name = name.strip()
    key = generator_name_key(name)
    if not key:
        raise ValidationError({"name": "has no visible characters"})
    with transaction.atomic():
        found = Generator.objects.filter(study=study, name=name).first()
        if found is not None:
            return found
        for existing in Generator.objects.filter(study=study).values_list("name", flat=True):
            if generator_name_key(existing) == key:
                raise ValidationError({"name": generator_name_clash(name=name, existing=existing)})
        return Generator.objects.create(study=study, name=name)


def generator_update(
    *, generator: Generator, family: str | None = _UNSET, size: int | None = _UNSET
) -> Generator:
    """Set a generator's `family` and/or parameter `size` (None clears the size)."""
    changed: list[str] = []
    if family is not _UNSET:
        generator.family = (family or "").strip()
        changed.append("family")
    if size is not _UNSET:
        if size is not None:
            try:
                size = generator_size_clean(size)
            except ValidationError as exc:
                raise ValidationError({"size": exc.messages}) from exc
        generator.size = size
        changed.append("size")
    if changed:
        generator.full_clean(exclude=["study"], validate_unique=False)
        generator.save(update_fields=changed)
    return generator
