"""Dataset stores: versioned tables that training can read while generation goes on.

The runtime imports only :class:`DatasetStore`; :class:`~synthfactory.store.lance.LanceStore`
is the default backend (imported lazily, so ``import synthfactory`` stays light).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

#: Columns every stored row has, before the recipe's own fields.
KEY_COLUMNS = ("item_id", "run_id")


class DatasetStore(Protocol):
    """One dataset table. Appends are atomic and return the new table version."""

    def append(self, rows: Sequence[dict[str, Any]]) -> int:
        """Append ``rows`` in one commit; returns the table version that holds them."""
        ...

    def present(self, item_ids: Iterable[str]) -> set[str]:
        """Which of ``item_ids`` are already in the table (for exactly-once after a crash)."""
        ...

    def read(
        self,
        *,
        run_id: str | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The table (at ``version``, default latest), optionally one run's rows only, and
        only those of ``columns`` it has."""
        ...

    def version(self) -> int | None:
        """The latest version, or ``None`` if nothing was ever written."""
        ...


__all__ = ["KEY_COLUMNS", "DatasetStore"]
