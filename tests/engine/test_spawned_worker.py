"""A process-pool worker whose scheduler was killed while its job ran (the chaos case of
tests/kills) ends quietly: its answer finds the pipe broken, and it exits as it does when the
pipe is closed while it waits, with no traceback in the scheduler's output."""

from __future__ import annotations

import multiprocessing

from django_schedules._spawn import worker_main


def test_a_worker_whose_scheduler_died_meanwhile_exits_quietly() -> None:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    worker = context.Process(target=worker_main, args=(theirs,))
    worker.start()
    theirs.close()
    # A database alias the worker does not know: the run fails at once, without a query, and
    # the worker answers down a closed pipe.
    ours.send((1, None, "no-such-database", 0.0, None))
    ours.close()
    worker.join(120)
    assert worker.exitcode == 0
