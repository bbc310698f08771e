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

import os
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import redis.exceptions
from rq import SimpleWorker
from rq.exceptions import DeserializationError, StopRequested
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers
from rq.scheduler import RQScheduler

from checkin.bootstrap import Runtime
from checkin.db import brief, unreachable
from workers.outage import OutageLog

# What Redis going away looks like to redis-py; anything else is a bug and RQ's own handling applies.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
BACKOFF_START, BACKOFF_CAP = 0.5, 15.0  # seconds between tries to reach Redis again

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


class Scheduler(RQScheduler):
    """RQ's scheduler process (`--with-scheduler`), which ends when the worker that forked it does.

    RQ forks it and stops it only from the worker's own shutdown: a worker SIGKILLed (the OOM killer, a
    platform's hard stop) left it running as an orphan, heartbeating the scheduler locks so that the
    worker started in its place could not take them, one more process per kill. RQ offers no parent-death
    check, so it is here: at each turn (a second), a parent that is no longer the worker (re-parented to
    init or a subreaper) means the worker is gone; the scheduler then stops as on SIGTERM, giving the
    locks back, and exits."""

    _parent: int | None = None

    def work(self):
        self._parent = os.getppid()  # in the forked process: the worker
        return super().work()

    def heartbeat(self):
        if self._parent is not None and os.getppid() != self._parent and not self._stop_requested:
            self.log.warning(
                "Scheduler %s: its worker (pid %s) is gone; stopping and giving its locks back",
                self.name,
                self._parent,
            )
            self.request_stop()
        return super().heartbeat()


class Worker(SimpleWorker):
    def __init__(self, *args, runtime: Runtime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # `rq worker` passes its default job class; ours is the one that hands jobs the runtime.
        self.job_class = RuntimeJob
        self._runtime = runtime
        self._outage: OutageLog | None = None
        self._db_outage: OutageLog | None = None

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

    # --- riding out a Redis outage -------------------------------------------------------------------
    # RQ's loop retries only its blocking pop; a Redis error anywhere else in it (a job's bookkeeping
    # after the job ran, the heartbeat after a job, the registries' cleanup) ends the process with "found
    # an unhandled exception, quitting...", and a crisis alert then waited for a human to restart it.
    # These overrides catch those errors where RQ's loop would see them, wait for Redis with backoff, and
    # let the loop carry on. A job whose bookkeeping was cut short is still in the outbox (the database
    # is the record): the sweeper enqueues it again and its outbox key keeps it from going twice.

    def _start_scheduler(self, burst=False, logging_level="INFO", *args, **kwargs):
        """RQ's, with `Scheduler` (above) in place of RQScheduler: RQ names its class here, no setting."""
        import rq.worker.base as rq_worker

        rq_worker.RQScheduler, original = Scheduler, rq_worker.RQScheduler
        try:
            return super()._start_scheduler(burst, logging_level, *args, **kwargs)
        finally:
            rq_worker.RQScheduler = original

    def execute_job(self, job: Job, queue) -> None:
        try:
            super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            self._ride_out(exc, f"job {job.id} ran; its result could not be recorded")

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        if pipeline is not None:  # only queued on a pipeline: no round trip to fail here
            return super().heartbeat(timeout, pipeline=pipeline)
        try:
            return super().heartbeat(timeout)
        except REDIS_DOWN as exc:
            self._ride_out(exc, "taking no jobs")
            return super().heartbeat(timeout)

    def run_maintenance_tasks(self):
        try:
            return super().run_maintenance_tasks()
        except REDIS_DOWN as exc:
            self._ride_out(exc, "registries not cleaned")

    def check_for_suspension(self, burst: bool):
        try:
            return super().check_for_suspension(burst)
        except REDIS_DOWN as exc:
            self._ride_out(exc, "taking no jobs")

    def _ride_out(self, exc: BaseException, doing: str) -> None:
        """Block until Redis answers (backoff, logged once), then make sure RQ still lists this worker."""
        outage = self._outage or OutageLog(self.log, f"Worker {self.name}")
        self._outage = outage
        outage.failed(exc, doing)
        pause = BACKOFF_START
        while True:
            time.sleep(pause)  # a SIGTERM meanwhile raises StopRequested out of here, as RQ's own wait does
            try:
                self.connection.ping()
                # Away longer than its registration lived (or Redis restarted empty): register again, so
                # /healthz and `rq info` see this worker, and so are the queues' keys.
                if not self.connection.exists(self.key):
                    self.register_birth()
                break
            except REDIS_DOWN as again:
                outage.failed(again, doing)
                pause = min(pause * 2, BACKOFF_CAP)
        outage.recovered("taking jobs again")
        # RQ's scheduler process (--with-scheduler) died of the same outage; RQ would restart it only at
        # its next maintenance, up to 10 minutes on, and jobs scheduled for later (retries) wait till then.
        if self.scheduler and (not self.scheduler._process or not self.scheduler._process.is_alive()):
            self.scheduler.acquire_locks(auto_start=True)

    def _shutdown(self) -> None:
        """RQ's, for a SIGTERM during an outage: it asks Redis whether a job is running and, unanswered,
        raised out of the signal handler. No job can be running while Redis is away: stop now."""
        try:
            super()._shutdown()
        except REDIS_DOWN:
            raise StopRequested() from None

    def teardown(self) -> None:
        try:
            super().teardown()
        except REDIS_DOWN as exc:
            self.log.warning(
                "Worker %s: stopped without unregistering (Redis unreachable, %s); its registration expires "
                "by itself",
                self.name,
                type(exc).__name__,
            )

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread) -> None:
        """RQ's, without an ERROR line every 2 s: the commands channel (`rq` kill/stop commands) goes down
        with Redis and redis-py resubscribes when it is back; the main loop reports the outage once."""
        if isinstance(exc, redis.exceptions.ConnectionError):
            self.log.debug(
                "Worker %s: commands channel: Redis unreachable (%s)", self.name, type(exc).__name__
            )
            time.sleep(2.0)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def perform_job(self, job: Job, queue, execution) -> bool:
        job.runtime = self.runtime
        ok = super().perform_job(job, queue, execution)
        if ok and self._db_outage is not None:
            self._db_outage.recovered(f"job {job.id} ran")
        return ok

    # --- a database outage ---------------------------------------------------------------------------
    # Every cron duty (sweeps every 2 s, the escalation tick, planning) fails while the database is away,
    # and RQ logs each failed job with its traceback: ~135 lines of chained connection errors a job, ~800
    # lines in a 20 s outage. The first such failure is logged as RQ would (traceback included), once;
    # the next are a line each; a job that runs again ends it with one line. Each job is still failed as
    # RQ fails it (the failed registry keeps its traceback); the cron duties run again at their interval.

    def handle_exception(self, job: Job, *exc_info):
        exc = exc_info[1]
        if exc is None or not unreachable(exc):
            super().handle_exception(job, *exc_info)
            return
        outage = self._db_outage or OutageLog(self.log, f"Worker {self.name}", dependency="database")
        self._db_outage = outage
        doing = f"job {job.id} ({_func_name(job)}) failed; jobs that need it fail until it answers"
        if not outage.failed(exc, doing, reason=brief(exc), traceback=True):
            self.log.warning(
                "Worker %s: job %s (%s) failed: the database is still unreachable (%s)",
                self.name,
                job.id,
                _func_name(job),
                type(exc).__name__,
            )
        call_exception_handlers(self._exc_handlers, job, *exc_info)

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


def _func_name(job: Job) -> str:
    try:
        return job.func_name
    except DeserializationError:
        return "<DeserializationError>"
