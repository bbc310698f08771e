"""The RQ worker: `rq worker --worker-class workers.worker.Worker --with-scheduler alerts inbound outbox planning`.

Each worker owns one Runtime, built by the composition root (checkin.bootstrap) from the environment
the first time a job needs it, or handed in (`Worker(queues, connection=..., runtime=rt)`, as tests
do). It gives that runtime to every job it performs as the job function's `runtime` argument, so
there is no process-wide slot: a job is a plain function of its arguments and its runtime, and
whoever calls one directly (a test, a one-off script) passes the runtime it built.

RQ names jobs by their import path and stores only their arguments, so the runtime cannot travel
with the job; the worker adds it when the job runs (`RuntimeJob.func`). A SimpleWorker runs jobs in
its own process, so the runtime's sockets are never shared with a forked child.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from rq import SimpleWorker
from rq.job import Job

from checkin.bootstrap import Runtime

F = TypeVar("F", bound=Callable)


def takes_runtime(func: F) -> F:
    """Mark a job function whose `runtime` keyword the worker fills in."""
    func.takes_runtime = True  # type: ignore[attr-defined]
    return func


class RuntimeJob(Job):
    """A job that runs with its worker's runtime (set by `Worker.perform_job`, never stored in Redis)."""

    runtime: Runtime | None = None

    @property
    def func(self):
        func = super().func
        if self.runtime is not None and getattr(func, "takes_runtime", False):
            return partial(func, runtime=self.runtime)
        return func


class Worker(SimpleWorker):
    def __init__(self, *args, runtime: Runtime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # `rq worker` passes its default job class; ours is the one that hands jobs the runtime.
        self.job_class = RuntimeJob
        self._runtime = runtime

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.build()
        return self._runtime

    def work(self, *args, **kwargs):
        burst = kwargs.get("burst", args[0] if args else False)
        if not burst:
            # Compile the risk rules and load the classifier before the first job, not in it: the first
            # text a fresh worker decided waited 4-6 s, and every reply queued behind it.
            from checkin.rules import ALL_LANGUAGES, assess

            assess("warm up", language=ALL_LANGUAGES, second_opinion=True)
        return super().work(*args, **kwargs)

    def perform_job(self, job: Job, queue, execution) -> bool:
        job.runtime = self.runtime
        return super().perform_job(job, queue, execution)

    def unsubscribe(self) -> None:
        """RQ's, with the wait for the command thread bounded. redis-py 8's PubSubWorkerThread.stop() joins
        the thread, and after the unsubscribe that thread sits out the rest of RQ's 60 s wait for a
        subscription: every worker exit (a deploy's restart, each burst run in the tests) took a minute.
        The thread is a daemon and ends by itself once its wait is over."""
        if self.pubsub_thread:
            self.log.info("Worker %s: unsubscribing from channel %s", self.name, self.pubsub_channel_name)
            self.pubsub.unsubscribe()
            self.pubsub_thread.stop(timeout=1)
            self.pubsub.close()
