"""`atomic=True`: every file's COPY in one transaction, run once every file is staged.

Either the table gains every file's rows, or it is left exactly as it was. The ledger of loaded
sources is written inside the same transaction, so a rolled-back load can simply be run again.
"""

from __future__ import annotations

import threading

from .errors import Cancelled, describe
from .model import FileState, Phase, ProgressModel
from .pipeline import CopyOutcome, LoadPlan, PendingCopy, Rejected, commit_copies, in_turn, tidy_stage
from .sessions import SessionPool


def copy_all_or_nothing(
    pending: list[PendingCopy],
    failed: list[str],
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    cancel: threading.Event,
) -> None:
    """COPY the staged files together and commit only if every one of them loaded.

    `failed` names the inputs that failed before their COPY: then nothing is copied at all.
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

    def copy_all() -> list[CopyOutcome]:
        with sessions.transaction() as cursor:
            return commit_copies(cursor, pending, plan, model, cancel)

    try:
        outcomes = in_turn(cancel, copy_all)
    except Rejected as rejected:
        culprit = rejected.item
        model.finish(culprit.index, FileState.FAILED, error=rejected.outcome.error)
        others = [p for p in pending if p is not culprit]
        reason = f"rolled back: the load is all or nothing and {culprit.source.name} failed"
        _finish_all(model, others, FileState.FAILED, reason)
    except (Cancelled, KeyboardInterrupt):
        cancel.set()
        _finish_all(model, pending, FileState.CANCELLED, "rolled back: the load was cancelled")
    except Exception as exc:
        _finish_all(model, pending, FileState.FAILED, f"rolled back: {describe(exc)}")
    else:
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
