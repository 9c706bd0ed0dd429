"""Segments on a Dask cluster (the ``dask`` extra): a ``LocalCluster`` it starts, or an
existing scheduler it joins (``address="tcp://HOST:8786"``).

Nothing of Dask leaves this module: every segment comes back as a plain
``concurrent.futures.Future``. Segments are submitted with ``pure=False`` (Dask would
otherwise treat two identical calls, such as a retry, as one task).

On the cluster it starts, Dask's own retry of a task whose worker died is switched off
(``allowed-failures = 0``): the task fails at once with ``KilledWorker`` and the controller
retries it the one way every executor shares, from the trial's last stored checkpoint. A
joined scheduler keeps its own setting, so there Dask may retry first.

The cluster it starts has at most one worker process per core; more workers than cores
become threads in those processes (a Dask worker and its nanny cost an event loop and
heartbeats each: 32 of them on 2 cores left half the time for the work).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

from ._optional import require

CONNECT_SECONDS = 30
# Our own retries; and no sampling profiler, GIL monitor or work stealing: segments are
# long, one per worker, and with 32 workers on a few cores those cost a whole core.
LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.work-stealing": False,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
}


class DaskExecutor:
    def __init__(self, *, workers: int | None = None, address: str | None = None) -> None:
        dask = require("dask", extra="dask", what="the dask executor")
        distributed = require("distributed", extra="dask", what="the dask executor")
        self._cluster = None
        if address:
            self._client = distributed.Client(address, timeout=CONNECT_SECONDS)
            self._client.wait_for_workers(1, timeout=CONNECT_SECONDS)
            self.workers = workers or sum(self._client.nthreads().values())
        else:
            cores = os.cpu_count() or 1
            self.workers = workers or cores
            # No more worker processes than cores (each is a worker plus a nanny, with its
            # own event loop and heartbeats); more segments than cores run as threads.
            processes = min(self.workers, cores)
            threads = str(max(1, cores // self.workers))
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self._cluster = distributed.LocalCluster(
                    n_workers=processes,
                    threads_per_worker=-(-self.workers // processes),
                    processes=True,
                    dashboard_address="127.0.0.1:0",  # loopback, any free port
                    silence_logs=logging.ERROR,
                    env={"OMP_NUM_THREADS": threads, "CURVETUNE_THREADS": threads},
                )
            self._client = distributed.Client(self._cluster)
        self._running: dict[str, tuple[Future, Any]] = {}  # Dask's key -> ours, Dask's
        # Results are fetched concurrently on Dask's event loop and handed over here in
        # batches. (A done-callback per task runs on one thread that fetches each result
        # with a blocking round trip: with 32 workers that queued for 180 ms per segment.)
        self._finished = distributed.as_completed(with_results=True, raise_errors=False)
        self._lock = threading.Lock()
        self._work = threading.Event()
        self._closing = False
        self._feeder = threading.Thread(target=self._feed, name="curvetune-dask", daemon=True)
        self._feeder.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        task = self._client.submit(fn, *args, pure=False)
        future: Future = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            self._running[task.key] = (future, task)
            self._finished.add(task)
            self._work.set()
        return future

    def _feed(self) -> None:
        """Hand each finished task's result (or error) to its future, until shutdown."""
        while True:
            self._work.wait()
            if self._closing:
                return
            for batch in self._finished.batches():
                for task, result in batch:
                    self._deliver(task, result)
            with self._lock:
                if self._finished.is_empty():
                    self._work.clear()

    def _deliver(self, task: Any, result: Any) -> None:
        with self._lock:
            future, _ = self._running.pop(task.key, (None, None))
            if future is None:
                return
        if task.status == "error":  # ``result`` is Dask's (type, exception, traceback)
            future.set_exception(result[1])
        elif isinstance(result, CancelledError) or task.cancelled():
            future.set_exception(CancelledError(f"dask task {task.key} was cancelled"))
        else:
            future.set_result(result)

    def abandon(self, future: Future) -> None:
        """Stop a hung segment: kill the worker process that runs it (its nanny starts a
        fresh one). A graceful restart would wait on the hung thread for minutes."""
        with self._lock:
            key = next((k for k, (ours, _) in self._running.items() if ours is future), None)
            if key is None:
                return
            _, task = self._running.pop(key)
        running_on = [
            worker
            for worker, keys in self._client.processing().items()
            if any(k == key for k in keys)
        ]
        task.cancel()
        if running_on:
            self._client.run(_kill_this_process, workers=running_on, wait=False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures and self._running:
            self._client.cancel([task for _, task in self._running.values()])
        self._closing = True
        self._work.set()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


async def _kill_this_process() -> None:
    """Runs on a Dask worker's event loop, outside the hung task's thread (a coroutine, so
    that ``Client.run`` need not wait for an answer that will never come)."""
    os.kill(os.getpid(), signal.SIGKILL)
