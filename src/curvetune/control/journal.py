"""The journal: the one writer of a study's store, and the keeper of its checkpoints.

Facts are applied to the ``History`` at once and written to the store in groups (group
commit): at most ``FLUSH_SECONDS`` after the first of a group was recorded, in one
transaction. Acting before a fact is stored is safe: if the run dies first, the store
holds the state before it, and the segment is run again from the checkpoint the store
names. That checkpoint must therefore outlive the flush, so deleting checkpoint files
waits in ``after_flush`` until the facts that make them unnecessary are stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial

from ..checkpoints import CheckpointStore
from ..events import Event, apply
from ..storage import Store
from ..types import History, TrialState

Listener = Callable[[History, Event], None]

FLUSH_SECONDS = 0.05  # longest a recorded fact waits for the store; a crash loses no more


class Journal:
    """Records events for one study: into its history now, into its store soon.

    ``checkpoints`` is None when the study keeps none (then nothing is ever deleted);
    ``stateless`` objectives never get checkpoints either. ``listener`` hears every event
    once it is in the history (the progress display uses it).
    """

    def __init__(
        self,
        *,
        store: Store,
        history: History,
        checkpoints: CheckpointStore | None,
        stateless: bool = False,
        listener: Listener | None = None,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.store = store
        self.history = history
        self.checkpoints = None if stateless else checkpoints
        self.listener = listener
        self.flush_seconds = flush_seconds
        self.due = float("inf")  # when the pending group must reach the store
        self._pending: list[Event] = []
        self._after_flush: list[Callable[[], None]] = []

    def record(self, events: Iterable[Event], applied: int = 0) -> None:
        """Apply ``events`` to the history (all but the first ``applied``, which are in it
        already), tell the listener, and queue them for the store, in order."""
        if not self._pending:
            self.due = time.monotonic() + self.flush_seconds
        history, listener = self.history, self.listener
        for index, event in enumerate(events):
            if index >= applied:
                apply(history, event)
            self._pending.append(event)
            if listener is not None:
                listener(history, event)

    def flush(self) -> None:
        """Write what is pending in one transaction, then do the deletions it allows."""
        if self._pending:
            self.store.append(self._pending)
            self._pending = []
        self.due = float("inf")
        for action in self._after_flush:
            action()
        self._after_flush.clear()

    def superseded(self, trial_id: int, step: int) -> None:
        """Trial ``trial_id``'s checkpoint at ``step`` has a successor: delete it once the
        store names the successor."""
        if self.checkpoints is not None and step > 0:
            self._after_flush.append(partial(self.checkpoints.remove, trial_id, step))

    def release(self, trial_id: int) -> None:
        """A finished trial keeps only its final checkpoint if completed, none otherwise.
        A trial that never stored one has nothing on disk to look at (a failed segment
        removes what it half-wrote; start-up garbage collection, what a crash left)."""
        trial = self.history[trial_id]
        if self.checkpoints is None or trial.checkpoint_step == 0:
            return
        keep = trial.checkpoint_step if trial.state is TrialState.COMPLETED else None
        self._after_flush.append(partial(self.checkpoints.discard, trial_id, keep))

    def collect_garbage(self) -> None:
        """Remove every checkpoint the store does not vouch for (what a crash left)."""
        if self.checkpoints is None:
            return
        keep: dict[int, int | None] = {}
        for trial in self.history.trials.values():
            if trial.state in (TrialState.RUNNING, TrialState.COMPLETED):
                keep[trial.id] = trial.checkpoint_step or None
        self.checkpoints.gc(keep)


def fan_out(listeners: list[Listener]) -> Listener | None:
    """One listener that tells each of ``listeners`` (None when there is none)."""
    if not listeners:
        return None
    if len(listeners) == 1:
        return listeners[0]

    def tell(history: History, event: Event) -> None:
        for listener in listeners:
            listener(history, event)

    return tell
