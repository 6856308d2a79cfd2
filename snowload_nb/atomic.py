"""`atomic=True`: every file's COPY in one transaction, run once every file is staged.

Either the table gains every file's rows, or it is left exactly as it was. COPY keeps its load
history inside the transaction too, so a rolled-back load can simply be run again.
"""

from __future__ import annotations

import threading

from .compress import Cancelled
from .errors import describe
from .model import FileState, Phase, ProgressModel, Wait
from .pipeline import LoadPlan, PendingCopy, Rejected, run_copy
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
    if cancel.is_set():
        _finish_all(model, pending, FileState.CANCELLED, "not loaded: the load was cancelled")
        return
    if failed:
        _finish_all(model, pending, FileState.FAILED, f"not loaded: the load is all or nothing and {failed[0]} failed")
        return
    outcomes = []
    try:
        with sessions.transaction(always=True) as cursor:
            for item in pending:
                if cancel.is_set():
                    raise Cancelled
                model.begin(item.index, Phase.COPY)
                outcome = run_copy(cursor, item.statement(plan), item.source)
                if outcome.state is FileState.FAILED:
                    raise Rejected(outcome)
                model.wait(item.index, Wait.COMMIT)
                outcomes.append((item, outcome))
    except Rejected as rejected:
        culprit = pending[len(outcomes)]
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
        for item, outcome in outcomes:
            if outcome.state is FileState.LOADED:
                model.complete(item.index, Phase.COPY)
            model.finish(item.index, outcome.state, rows=outcome.rows)


def _finish_all(model: ProgressModel, pending: list[PendingCopy], state: FileState, reason: str) -> None:
    for item in pending:
        model.finish(item.index, state, error=reason)
