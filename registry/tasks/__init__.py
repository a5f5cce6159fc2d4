"""Background work: a task is enqueued if and only if the transaction that asked for it commits.

A use case calls `outbox.enqueue(session, task, args, key)`: it writes a row in the session's
transaction, nothing else. After commit, the `relay.OutboxRelay` hands committed rows to a
`queue.TaskQueue`: the in-process `inprocess.InProcessQueue` (the embedded default) or the
Celery one (`celery.CeleryQueue`, one Redis queue per kind of work). Either runs a task through
`runner.run_once`, which skips a key that already completed and records completion in the
transaction of the task's own writes, so a task delivered twice has its effect once.
"""
