"""The shared cache: Django's database cache, where a failure is a miss, never a failed request.

Computed results live in one table (`CACHES` in app/settings.py) that every gunicorn worker and
every host reads, so each new judgment costs one recomputation in total, not one per worker.
The table is created by the migration annotations/0011_cache_table (and `manage.py
createcachetable`); if it is missing anyway, or the database hiccups, a read is a miss and a
write is skipped: the results are computed as if nothing were cached, and a warning is logged
(at most once a minute per process).
"""

from __future__ import annotations

import binascii
import logging
import pickle
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache
from django.db import Error, connections, router, transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

_WARN_EVERY_SECONDS = 60.0
# Unreadable stored values (written by other code, or cut short) are misses too.
_UNREADABLE = (pickle.UnpicklingError, binascii.Error, EOFError, ValueError)


class SharedDatabaseCache(DatabaseCache):
    """DatabaseCache whose reads miss and whose writes are dropped when the database fails."""

    _last_warning = 0.0

    def _guard(self, operation: str, default: T, call: Callable[[], T], write: bool) -> T:
        alias = (router.db_for_write if write else router.db_for_read)(self.cache_model_class)
        try:
            if connections[alias].in_atomic_block:
                # A savepoint: a failing cache statement must not abort the caller's transaction.
                with transaction.atomic(using=alias):
                    return call()
            return call()
        except (Error, *_UNREADABLE) as error:
            now = time.monotonic()
            if now - SharedDatabaseCache._last_warning >= _WARN_EVERY_SECONDS:
                SharedDatabaseCache._last_warning = now
                log.warning(
                    "cache %s on table %r failed (%s: %s); computing without the cache. "
                    "A missing table is made by `manage.py migrate` or `createcachetable`.",
                    operation,
                    self._table,
                    type(error).__name__,
                    str(error).strip().splitlines()[0] if str(error).strip() else "",
                )
            return default

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        # get() and get_or_set() read through here
        parent = super().get_many
        return self._guard("read", {}, lambda: parent(keys, version), write=False)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        parent = super().has_key
        return self._guard("read", False, lambda: parent(key, version), write=False)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        parent = super().set
        self._guard("write", None, lambda: parent(key, value, timeout, version), write=True)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        parent = super().add
        return self._guard("write", False, lambda: parent(key, value, timeout, version), True)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        parent = super().touch
        return self._guard("write", False, lambda: parent(key, timeout, version), write=True)

    def delete(self, key: Any, version: int | None = None) -> bool:
        parent = super().delete
        return self._guard("delete", False, lambda: parent(key, version), write=True)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        parent = super().delete_many
        self._guard("delete", None, lambda: parent(keys, version), write=True)

    def clear(self) -> None:
        parent = super().clear
        self._guard("clear", None, parent, write=True)
