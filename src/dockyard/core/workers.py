"""Running a few jobs at once (layer downloads, unpacks, uploads).

Unpacking is CPU work in Python: threads would queue on the GIL, so where it is
safe the jobs run in forked processes instead, each on its own core. It is safe
when this interpreter runs no other thread (STYLE: never fork an interpreter that
has threads); otherwise, e.g. inside a threaded program using the Engine API, the
jobs fall back to threads. A job is a callable `job(report) -> result`; `report(*msg)`
reaches `on_report(index, *msg)` in the caller, and results and messages must be
marshal-able (a forked job answers over a pipe). A job's DockyardError is raised
again, same class and message, in the caller; the first error stops new jobs.
`meanwhile`, if given, runs in the caller once the first jobs are under way (work
that would otherwise wait for them, or delay them); if it raises, the jobs are
still waited for, then its error is raised. With `processes=False` the jobs run in
threads even where they could fork: for jobs that mostly wait (small layers), a
process's start, copy-on-write faults and exit cost more than the GIL does.
"""

from __future__ import annotations

import marshal
import os
import struct

from .. import errors


def _threads_running() -> bool:
    import _thread

    return _thread._count() > 0  # Python threads besides this one (threading's too)


def run(jobs: list, parallel: int, on_report=None, meanwhile=None, processes: bool = True) -> list:
    if not jobs:
        if meanwhile is not None:
            meanwhile()
        return []
    if not processes or _threads_running() or not hasattr(os, "fork"):
        return _run_threads(jobs, parallel, on_report, meanwhile)
    return _run_forked(jobs, parallel, on_report, meanwhile)


def _error_from(kind: str, message: str) -> BaseException:
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, errors.DockyardError):
        return cls(message)
    return errors.DockyardError(f"{kind}: {message}")


def _send(fd: int, msg) -> None:
    data = marshal.dumps(msg)
    view = memoryview(struct.pack("<I", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _run_forked(jobs: list, parallel: int, on_report, meanwhile) -> list:
    import select

    results: list = [None] * len(jobs)
    running: dict[int, list] = {}  # read fd -> [pid, index, buffer]
    first_error: BaseException | None = None
    own_error: BaseException | None = None
    nxt = 0
    while nxt < len(jobs) or running:
        while nxt < len(jobs) and len(running) < parallel and first_error is None:
            r, w = os.pipe2(os.O_CLOEXEC)
            pid = os.fork()
            if pid == 0:  # the job's process: report, answer, exit without cleanup
                os.close(r)
                code = 0
                try:
                    result = jobs[nxt](lambda *msg: _send(w, ("report", msg)))
                    _send(w, ("result", result))
                except BaseException as e:
                    _send(w, ("error", type(e).__name__, getattr(e, "message", None) or str(e)))
                    code = 1
                os._exit(code)
            os.close(w)
            running[r] = [pid, nxt, b""]
            nxt += 1
        if meanwhile is not None:
            task, meanwhile = meanwhile, None
            try:
                task()
            except BaseException as e:
                own_error = e
                first_error = first_error or e  # no new jobs
        if not running:
            break
        ready, _, _ = select.select(list(running), [], [])
        for fd in ready:
            entry = running[fd]
            chunk = os.read(fd, 1 << 16)
            entry[2] += chunk
            buf = entry[2]
            while len(buf) >= 4:
                n = struct.unpack_from("<I", buf)[0]
                if len(buf) < 4 + n:
                    break
                msg = marshal.loads(buf[4:4 + n])
                buf = buf[4 + n:]
                if msg[0] == "report" and on_report:
                    on_report(entry[1], *msg[1])
                elif msg[0] == "result":
                    results[entry[1]] = msg[1]
                elif msg[0] == "error" and first_error is None:
                    first_error = _error_from(msg[1], msg[2])
            entry[2] = buf
            if not chunk:
                os.close(fd)
                _, status = os.waitpid(entry[0], 0)
                if status != 0 and first_error is None and results[entry[1]] is None:
                    first_error = errors.DockyardError(f"a worker process ended with status {status}")
                del running[fd]
    if own_error is not None:
        raise own_error
    if first_error is not None:
        raise first_error
    return results


def _run_threads(jobs: list, parallel: int, on_report, meanwhile) -> list:
    import threading

    results: list = [None] * len(jobs)
    errs: list[BaseException] = []
    lock = threading.Lock()
    sem = threading.Semaphore(parallel)

    def work(i: int) -> None:
        with sem:
            if errs:
                return
            try:
                results[i] = jobs[i](lambda *msg: on_report(i, *msg) if on_report else None)
            except BaseException as e:
                with lock:
                    errs.append(e)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(jobs))]
    for t in threads:
        t.start()
    own_error = None
    if meanwhile is not None:
        try:
            meanwhile()
        except BaseException as e:
            own_error = e
            errs.append(e)  # no new jobs
    for t in threads:
        t.join()
    if own_error is not None:
        raise own_error
    if errs:
        raise errs[0]
    return results
