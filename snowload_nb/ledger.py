"""Which sources a table has loaded: the record that makes a load exactly-once.

Snowflake's own load metadata is keyed by the staged file's name and checksum, so it cannot tell
that a file staged under a new attempt's name, or compressed differently, is the same source. The
ledger (a table beside the stage) is keyed by the source instead, and written in the same
transaction as the COPY, so a source is recorded if and only if its rows are in the table.

Two loads of one source take turns: the COPY's transaction first updates the source's lock slot.
On Snowflake the second transaction waits for the first's lock; on the embedded server it fails
at once (`LockBusy`) and is tried again. Either way, the one that goes second finds the first's
record when it writes its own, and rolls its COPY back. A client that vanishes mid-transaction
holds its slots until the server ends its session (the embedded server: after 10 s of silence).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from snowflake.connector.errors import ProgrammingError

from . import sql
from .errors import LockBusy
from .sql import QualifiedName

_CHECK_BATCH = 500  # keys per pre-check statement
_PREPARE_TRIES = 8
_LOCK_ERRNOS = frozenset({625})  # Snowflake: a lock wait timed out; the embedded server: a conflict


@dataclass(frozen=True)
class Ledger:
    table: QualifiedName

    @property
    def name(self) -> QualifiedName:
        return self.table.sibling(sql.LEDGER_NAME)

    @property
    def locks(self) -> QualifiedName:
        return self.table.sibling(sql.LOCKS_NAME)

    @property
    def table_key(self) -> str:
        """The table in the ledger: a hash of its exact name, so no user text goes into SQL."""
        return hashlib.blake2b(self.table.sql.encode(), digest_size=10).hexdigest()

    def prepare(self, cursor: Any) -> None:
        """Create the ledger and the lock slots if missing. Two loads doing it at once may
        conflict on the embedded server; the one that loses finds them made when it tries again.

        Once they are made, one query finds them: making them is three statements before any
        file starts, each `CREATE` a round trip that on Snowflake commits as DDL.
        """
        try:
            (slots, _) = cursor.execute(sql.ledger_ready(self.name, self.locks)).fetchone()
        except ProgrammingError:  # not made yet
            slots = 0
        if slots:
            return
        for attempt in range(_PREPARE_TRIES):
            try:
                cursor.execute(sql.create_ledger(self.name))
                cursor.execute(sql.create_locks(self.locks))
                (slots,) = cursor.execute(sql.count_lock_slots(self.locks)).fetchone()
                if not slots:
                    cursor.execute(sql.fill_lock_slots(self.locks))
                return
            except ProgrammingError as exc:
                if exc.errno not in _LOCK_ERRNOS or attempt == _PREPARE_TRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))  # a backoff between tries, not a synchronisation

    def loaded(self, cursor: Any, source_keys: Iterable[str]) -> set[str]:
        """The keys among `source_keys` that the table has loaded (committed loads only)."""
        found: set[str] = set()
        for batch in _batches(source_keys):
            cursor.execute(sql.loaded_sources(self.name, self.table_key, batch))
            found.update(str(row[0]) for row in cursor.fetchall())
        return found

    def held(self, cursor: Any, source_keys: Iterable[str]) -> tuple[set[str], set[str]]:
        """`loaded`, split in two: the keys whose record the table bears out, and those whose
        record says rows went in while the table now has none (it was dropped and made again,
        truncated or emptied, as Snowflake's own load history would be forgotten with it)."""
        held: set[str] = set()
        emptied: set[str] = set()
        for batch in _batches(source_keys):
            cursor.execute(sql.loaded_sources_held(self.name, self.table_key, batch, self.table))
            for key, rows, table_has_rows in cursor.fetchall():
                (emptied if rows and not table_has_rows else held).add(str(key))
        return held, emptied

    def forget_if_emptied(self, cursor: Any, source_keys: Iterable[str]) -> None:
        """Inside a transaction that has claimed the sources: drop their records if the table has
        no row. A load of them that committed first left its rows in the table, so its record
        stays, and this load's own record then finds it and rolls back."""
        for batch in _batches(source_keys):
            cursor.execute(sql.forget_if_emptied(self.name, self.table_key, batch, self.table))

    def claim(self, cursor: Any, source_keys: Iterable[str], attempt: str) -> None:
        """First in a transaction: lock the sources' slots until it ends.

        Slots are taken in order, so two transactions needing several never wait on each other.
        """
        for slot in sorted({slot_of(k) for k in source_keys}):
            try:
                cursor.execute(sql.claim_slot(self.locks, slot, attempt))
            except ProgrammingError as exc:
                if exc.errno in _LOCK_ERRNOS:
                    raise LockBusy(str(exc)) from None
                raise

    def claim_together(self, cursor: Any, source_keys: Iterable[str], attempt: str) -> None:
        """`claim` in one statement, for a batch of many sources: a statement per slot would cost
        more than the batch's COPY. One UPDATE takes its rows' locks as one step."""
        try:
            cursor.execute(sql.claim_slots(self.locks, [slot_of(k) for k in source_keys], attempt))
        except ProgrammingError as exc:
            if exc.errno in _LOCK_ERRNOS:
                raise LockBusy(str(exc)) from None
            raise

    def record_many(self, cursor: Any, loads: list[tuple[str, int]], attempt: str) -> int:
        """Record several loads (source key, rows) in the open transaction; how many went in."""
        recorded = 0
        for start in range(0, len(loads), _CHECK_BATCH):
            cursor.execute(sql.record_loads(self.name, self.table_key, loads[start : start + _CHECK_BATCH], attempt))
            recorded += int(cursor.rowcount or 0)
        return recorded

    def record(self, cursor: Any, source_key: str, attempt: str, rows: int) -> bool:
        """Record a load in the open transaction; False if another load recorded the source first."""
        cursor.execute(sql.record_load(self.name, self.table_key, source_key, attempt, rows))
        return bool(cursor.rowcount)

    def forget(self, cursor: Any) -> None:
        """Drop the table's record, in the open transaction that replaces its contents: the
        files it lists were loaded into rows that are gone, so they must load again."""
        cursor.execute(sql.forget_loads(self.name, self.table_key))

    def swap_with(self, cursor: Any, other: Ledger) -> None:
        """The two tables' records change places, as the tables do when one is swapped in."""
        cursor.execute(sql.swap_loads(self.name, self.table_key, other.table_key))

    def recorded_by(self, cursor: Any, attempt: str) -> int:
        """How many sources `attempt` recorded for this table (committed, or in this transaction)."""
        (count,) = cursor.execute(sql.loads_of_attempt(self.name, self.table_key, attempt)).fetchone()
        return int(count)


def _batches(source_keys: Iterable[str]) -> Iterator[list[str]]:
    """The distinct keys in order, `_CHECK_BATCH` to a statement."""
    keys = sorted(set(source_keys))
    for start in range(0, len(keys), _CHECK_BATCH):
        yield keys[start : start + _CHECK_BATCH]


def slot_of(source_key: str) -> int:
    return int(hashlib.blake2b(source_key.encode(), digest_size=4).hexdigest(), 16) % sql.LOCK_SLOTS
