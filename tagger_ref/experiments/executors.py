"""Where a sweep's seeds run (docs/sweeps.md): this machine's cores, or a Dask cluster.

Both runners take :class:`~tagger_ref.experiments.sweep.SeedTask` values, run
:func:`~tagger_ref.experiments.sweep.run_seed` on them and hand back futures (``done()``,
``result()``); ``stop()`` asks every running seed to checkpoint after its current step and return,
and seeds not yet started return at once.

- :class:`LocalRunner`: one seed in a thread of this process (``workers=1``), or ``workers``
  seeds at once in worker processes of a ``concurrent.futures.ProcessPoolExecutor`` started by
  ``spawn``: fresh interpreters, not forks of a process whose BLAS threads are running, and
  children of the sweep itself (a ``forkserver`` would be their parent and outlive the sweep).
  Each worker is told to stop by a shared event, by its own SIGINT or SIGTERM (Ctrl-C reaches
  every process of the terminal's group) and by its parent's exit, which a thread notices as a
  change of ``os.getppid()``; the worker then exits once its seed has checkpointed, so ``kill -9``
  of the sweep leaves no process behind.
- :class:`DaskRunner`: a ``distributed.Client`` on a running scheduler; the stop is a
  ``distributed.Event``; the data file is read by path on the workers or, with ``scatter``, its
  bytes are sent once to every worker.
"""

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
import uuid

from ..errors import ConfigError
from .sweep import add_worker_stop, run_seed


def available_cores():
    """Cores this process may run on (its CPU affinity where the system says, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_worker(workers, cores=None):
    """BLAS threads of each of ``workers`` processes so that workers x threads <= cores (at least 1)."""
    return max(1, (cores or available_cores()) // workers)


_task_lock = threading.Lock()  # held by a worker process while it runs a seed


def _run_in_worker(task):
    with _task_lock:
        return run_seed(task)


def _watch_parent(stop, poll=0.5):
    """Once this process's parent has exited (the process is then handed to another parent, so
    ``os.getppid()`` changes at once, before anyone reaps the old one): ``stop()`` the running seed,
    wait until it has checkpointed and returned, and exit. Left alone, an orphaned pool worker
    would wait for work forever (it holds a writing end of its own task queue)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(poll)
        stop()
        with _task_lock:
            os._exit(0)

    threading.Thread(target=watch, name="tagger-ref-parent-watch", daemon=True).start()


def _init_worker(stop_event):
    """A worker process's start: stop on the sweep's event, on SIGINT/SIGTERM, and when the sweep dies."""
    received = []

    def handler(signum, frame):
        received.append(signum)

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, handler)
    add_worker_stop(stop_event.is_set)
    add_worker_stop(lambda: bool(received))
    _watch_parent(lambda: received.append("parent exited"))


def _run_in_thread(task, stop_event):
    return run_seed(task, stop_requested=lambda: "a stop request" if stop_event.is_set() else None)


class LocalRunner:
    """Seeds on this machine: in a thread (workers=1) or in ``workers`` processes."""

    def __init__(self, workers):
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        if workers == 1:
            self._stop = threading.Event()
            self._pool = concurrent.futures.ThreadPoolExecutor(1)
        else:
            context = multiprocessing.get_context("spawn")
            self._stop = context.Event()
            self._pool = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=context, initializer=_init_worker, initargs=(self._stop,)
            )

    def describe(self, threads):
        where = "this process" if self.workers == 1 else f"{self.workers} worker processes"
        return f"{where}, {threads} BLAS thread(s) each"

    def submit(self, task):
        if self.workers == 1:
            return self._pool.submit(_run_in_thread, task, self._stop)
        return self._pool.submit(_run_in_worker, task)

    def stop(self):
        self._stop.set()

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskRunner:
    """Seeds on a Dask cluster: ``address`` of a running scheduler (tcp://HOST:PORT, or a LocalCluster's)."""

    def __init__(self, address, data=None, scatter=False, connect_timeout=30):
        try:
            from distributed import Client, Event
        except ImportError:
            raise ConfigError("--scheduler needs Dask's distributed package: pip install 'tagger-ref[sweep]'") from None
        try:
            self.client = Client(address, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise ConfigError(f"--scheduler {address}: cannot connect ({e})") from None
        self.address = address
        self.stop_name = f"tagger-ref-sweep-stop-{uuid.uuid4().hex}"
        self._event = Event(self.stop_name, client=self.client)
        self._data = None
        if scatter:
            with open(data, "rb") as f:
                self._data = self.client.scatter(f.read(), broadcast=True)

    def describe(self, threads):
        workers = self.client.scheduler_info().get("workers", {})
        threads = f", {threads} BLAS thread(s) per seed" if threads else ""
        return f"the Dask scheduler {self.address} ({len(workers)} worker(s){threads})"

    def submit(self, task):
        return self.client.submit(
            run_seed, task, self._data, key=f"tagger-ref-seed-{task.seed}-{uuid.uuid4().hex}", pure=False
        )

    def stop(self):
        self._event.set()

    def close(self):
        self.client.close()
