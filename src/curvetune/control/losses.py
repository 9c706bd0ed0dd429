"""How much of a lost segment counts against its trial's retries.

A worker process that dies can take its whole pool down with it: loky (like the standard
``ProcessPoolExecutor``) then fails *every* segment in flight with one and the same
``BrokenExecutor`` exception. Only one of those segments killed the worker; charging each
of them a whole retry would fail innocent trials once a few deaths pile up (three trials
that each kill their worker once would use up a bystander's retries). So a loss shared by
``n`` segments charges each ``1/n``: every breakage costs one retry in all, as if the
culprit were known. A segment lost alone (a timeout, a Dask ``KilledWorker``) pays in full.

A segment stopped for hanging past its timeout pays in full, and the segments that stopping
it takes down (killing one loky worker breaks the whole pool) are spared: they pay nothing.

The retry bound still holds for a segment that kills its worker every time: it is charged
at least ``1/workers`` per death, so it fails after at most ``workers * (retries + 1)``
deaths, and its bystanders are never charged more than it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import BrokenExecutor, Future


class LossLedger:
    """Charges for lost segments; call ``charge`` once per lost segment, in any order."""

    def __init__(self) -> None:
        # id(exception) -> (the exception, kept so its id stays unique; share; charges left)
        self._breakages: dict[int, tuple[BaseException, float, int]] = {}
        self._spared: set[Future] = set()

    def spare(self, futures: Iterable[Future]) -> None:
        """These segments, if lost now, are bystanders of a loss already paid for."""
        self._spared.update(future for future in futures if not future.done())

    def settle(self, future: Future) -> None:
        """The controller is done with ``future``: forget it."""
        self._spared.discard(future)

    def charge(self, future: Future, error: BaseException, in_flight: Iterable[Future]) -> float:
        """The fraction of a retry that losing ``future``'s segment to ``error`` costs.

        ``in_flight`` are the other segments still in flight when the loss is handled:
        those not yet finished, or finished with this same exception, go down with it.
        """
        if future in self._spared:
            return 0.0
        if not isinstance(error, BrokenExecutor):
            return 1.0
        key = id(error)
        if key not in self._breakages:
            victims = 1 + sum(1 for future in in_flight if _shares(future, error))
            self._breakages[key] = (error, 1.0 / victims, victims)
        _, share, left = self._breakages[key]
        if left <= 1:
            del self._breakages[key]
        else:
            self._breakages[key] = (error, share, left - 1)
        return share


def _shares(future: Future, error: BaseException) -> bool:
    if not future.done():
        return True  # a breakage fails the whole pool, this one's turn just hasn't come
    return not future.cancelled() and future.exception() is error
