"""`atomic=True`: every file's COPY in one transaction, run once every file is staged.

Either the table gains every file's rows, or it is left exactly as it was. The ledger of loaded
sources is written inside the same transaction, so a rolled-back load can simply be run again.

`mode="truncate"` and `mode="overwrite"` load the same way, with the replacement of the table's
contents in that transaction too (`Replacement`): readers see the old rows until it commits and
the new rows after, and a failure anywhere leaves the old rows and their ledger as they were.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from snowflake.connector.errors import ProgrammingError

from . import sql
from .errors import Cancelled, LockBusy, describe
from .ledger import Ledger
from .model import FileState, Phase, ProgressModel
from .pipeline import CopyOutcome, LoadPlan, PendingCopy, Rejected, commit_copies, in_turn, tidy_stage
from .sessions import SessionPool
from .sql import QualifiedName

MODES = ("append", "overwrite", "truncate")
_LOCK_ERRNOS = frozenset({625})  # as the ledger's: another transaction holds the rows
logger = logging.getLogger(__name__)


@dataclass
class Replacement:
    """What a load that replaces a table's contents does around its COPYs, in their transaction.

    `truncate` keeps the table (its definition, grants, comments) and deletes its rows first.
    `overwrite` loads into a new table (`new`, made by the caller with the inferred columns)
    and swaps it in with `ALTER TABLE … SWAP WITH` after the COPYs; the old table, under the new
    one's name, is dropped afterwards. Either way the table's ledger goes with its contents, so
    the same files load again, and a later append of them finds them loaded.
    """

    mode: str
    table: QualifiedName  # the user's table
    new: QualifiedName | None = None  # overwrite: where the files load, until it is swapped in
    rows_replaced: int | None = None  # how many rows the table held before; once committed
    _swap_failed: bool = field(default=False, repr=False)

    @classmethod
    def overwriting(cls, table: QualifiedName) -> Replacement:
        """An overwrite; the new table is named beside the user's, unique to this load."""
        return cls("overwrite", table, table.sibling(f"{table.name}__SNOWLOAD_NEW_{secrets.token_hex(6).upper()}"))

    @property
    def target(self) -> QualifiedName:
        """The table the COPYs load into."""
        return self.new or self.table

    def before_copies(self, cursor: Any, pending: list[PendingCopy], plan: LoadPlan) -> int:
        """First in the transaction: the old rows (counted, and deleted for truncate).

        The sources' lock slots are claimed before the table's rows are touched, in the order
        every load takes them, so a concurrent append of the same files never deadlocks with it.
        """
        plan.ledger.claim(cursor, [item.source.key for item in pending], plan.attempt)
        if self.new is not None:
            (count,) = cursor.execute(sql.count_rows(self.table)).fetchone()
            return int(count)
        try:
            cursor.execute(sql.delete_rows(self.table))
        except ProgrammingError as exc:
            if exc.errno in _LOCK_ERRNOS:
                raise LockBusy(str(exc)) from None
            raise
        count = int(cursor.rowcount or 0)
        Ledger(self.table).forget(cursor)
        return count

    def after_copies(self, cursor: Any) -> None:
        """Last in the transaction, for overwrite: the new table and its ledger take the old ones' places.

        Snowflake runs the SWAP as DDL: it commits the COPYs and the ledger's swap just before
        it, then swaps in a transaction of its own. Should the SWAP fail there, `settle` puts the
        ledger back. The embedded server runs it inside this transaction.
        """
        if self.new is None:
            return
        Ledger(self.table).swap_with(cursor, Ledger(self.new))
        try:
            cursor.execute(sql.swap_tables(self.new, self.table))
        except BaseException:
            self._swap_failed = True
            raise

    def settle(self, sessions: SessionPool, plan: LoadPlan) -> None:
        """After the load, committed or not: drop the table the user no longer has, with its record.

        That is the old table after a swap, or the new one when the load failed. A failure here
        leaves only an unused table behind (its name says whose); nothing is lost.
        """
        if self.new is None or plan.outage.reason is not None:
            return
        try:
            with sessions.cursor() as cursor:
                mine = Ledger(self.table)
                if self._swap_failed and mine.recorded_by(cursor, plan.attempt):
                    Ledger(self.new).swap_with(cursor, mine)  # the SWAP did not happen: nor may this
                cursor.execute(sql.drop_table(self.new))
                Ledger(self.new).forget(cursor)
        except Exception as exc:
            logger.debug("could not drop %s: %s", self.new, describe(exc))


def copy_all_or_nothing(
    pending: list[PendingCopy],
    failed: list[str],
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    cancel: threading.Event,
    replacement: Replacement | None = None,
) -> None:
    """COPY the staged files together and commit only if every one of them loaded.

    `failed` names the inputs that failed before their COPY: then nothing is copied at all.
    With a `replacement`, the table's old contents go in the same transaction, whose rows
    replaced it records once committed.
    """
    if cancel.is_set() or failed:
        for item in pending:
            tidy_stage(item.source, False, sessions, plan)
    if plan.outage.reason is not None:
        reason = f"not loaded: the server stopped answering ({plan.outage.reason})"
        _finish_all(model, pending, FileState.FAILED, reason)
        return
    if cancel.is_set():
        _finish_all(model, pending, FileState.CANCELLED, "not loaded: the load was cancelled")
        return
    if failed:
        _finish_all(model, pending, FileState.FAILED, f"not loaded: the load is all or nothing and {failed[0]} failed")
        return

    replaced = 0

    def copy_all() -> list[CopyOutcome]:
        nonlocal replaced
        with sessions.transaction() as cursor:
            if replacement is not None:
                replaced = replacement.before_copies(cursor, pending, plan)
            # Appending, a source recorded in a table with no row now loads again (as a DataFrame
            # chunk's key is known only once it is written, this is the one place to tell).
            forget = replacement is None and not plan.force
            outcomes = commit_copies(cursor, pending, plan, model, cancel, forget_emptied=forget)
            if replacement is not None:
                replacement.after_copies(cursor)
            return outcomes

    try:
        outcomes = in_turn(cancel, copy_all)
    except Rejected as rejected:
        culprit = rejected.item
        others = [p for p in pending if p is not culprit]
        if rejected.outcome.state is FileState.SKIPPED:
            # In the table already (a DataFrame chunk's key is known only once it is written, so
            # only the ledger can tell): not a failure, though what was to load with it rolled back.
            model.finish(culprit.index, FileState.SKIPPED, error=rejected.outcome.error)
            loaded = f"{culprit.source.name} was loaded meanwhile; load again"
            reason = f"rolled back: the load is all or nothing and {loaded}"
        else:
            model.finish(culprit.index, FileState.FAILED, error=rejected.outcome.error)
            reason = f"rolled back: the load is all or nothing and {culprit.source.name} failed"
        _finish_all(model, others, FileState.FAILED, reason)
    except (Cancelled, KeyboardInterrupt):
        cancel.set()
        _finish_all(model, pending, FileState.CANCELLED, "rolled back: the load was cancelled")
    except Exception as exc:
        _finish_all(model, pending, FileState.FAILED, f"rolled back: {describe(exc)}")
    else:
        if replacement is not None:
            replacement.rows_replaced = replaced
        for item, outcome in zip(pending, outcomes, strict=True):
            if outcome.state is FileState.LOADED:
                model.complete(item.index, Phase.COPY)
            model.finish(item.index, outcome.state, rows=outcome.rows, error=outcome.error)
    finally:
        for item in pending:
            tidy_stage(item.source, model.state_of(item.index) is FileState.LOADED, sessions, plan)


def _finish_all(model: ProgressModel, pending: list[PendingCopy], state: FileState, reason: str) -> None:
    for item in pending:
        model.finish(item.index, state, error=reason)
