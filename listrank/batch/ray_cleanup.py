"""A local Ray cluster started by the batch driver dies with the driver, however it ends.

- normal return, an exception, Ctrl-C: ``ray.shutdown()`` in a ``finally``;
- SIGTERM / SIGHUP: turned into SystemExit while the cluster runs, so that ``finally`` runs;
- SIGKILL (or any death that runs no Python): a small watchdog process, started in its own
  session, holds the read end of a pipe from the driver. When the pipe closes (the driver is
  gone, whatever killed it) it stops every process of that cluster: those whose command line
  names the cluster's session directory (GCS, raylet, dashboard, monitors) and all their
  descendants (agents and workers, which rename themselves ``ray::…``). Ray's own processes
  otherwise linger for a minute or more after their driver.

Run as ``python -m listrank.batch.ray_cleanup SESSION_DIR``: that is the watchdog.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

GRACE_S = 3.0
POLL_S = 0.5


def session_dir(ray: Any) -> str | None:
    """The running local cluster's session directory (a private Ray API: None if it moved)."""
    try:
        node = ray._private.worker._global_node
        path = str(node.get_session_dir_path()) if node is not None else ""
    except Exception:
        return None
    # only a real session folder: the watchdog matches command lines on this string
    return path if os.path.basename(path).startswith("session_") else None


def _start_watchdog(session: str) -> subprocess.Popen[bytes] | None:
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "listrank.batch.ray_cleanup", session],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C or a group kill of the driver leaves it running
        )
    except OSError:
        return None


class _Terminated(SystemExit):
    pass


def _raise_exit(signum: int, frame: Any) -> None:
    raise _Terminated(128 + signum)


@contextlib.contextmanager
def local_cluster(ray: Any, *, owned: bool = True) -> Iterator[None]:
    """Around the work on a cluster this process connected to: ``ray.shutdown()`` on every
    exit; when this process also started it (``owned``), a watchdog stops it if we die."""
    session = session_dir(ray) if owned else None
    watchdog = _start_watchdog(session) if session else None
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, _raise_exit)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            ray.shutdown()
        finally:
            if watchdog is not None and watchdog.stdin is not None:
                watchdog.stdin.close()  # sweep whatever shutdown left behind


def _cluster_processes(session: str) -> list[Any]:
    import psutil

    me = os.getpid()
    roots = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.info["pid"] != me and session in " ".join(proc.info["cmdline"] or ()):
                roots.append(proc)
        except (psutil.Error, TypeError):
            continue
    found = {p.pid: p for p in roots}
    for root in roots:
        with contextlib.suppress(psutil.Error):
            for child in root.children(recursive=True):
                if child.pid != me:
                    found[child.pid] = child
    return list(found.values())


def sweep(session: str, known: dict[int, Any] | None = None) -> int:
    """Stop every process of the cluster whose session directory is ``session``, and those of
    ``known`` (seen earlier as its descendants) that still run."""
    import psutil

    procs = {p.pid: p for p in (known or {}).values()}
    procs.update((p.pid, p) for p in _cluster_processes(session))
    for proc in procs.values():  # psutil checks the start time: a reused pid is left alone
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(list(procs.values()), timeout=GRACE_S)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return len(procs)


def main(argv: list[str]) -> int:
    import select

    session = argv[0]
    known: dict[int, Any] = {}
    fd = sys.stdin.fileno()
    while True:
        # keep learning the cluster's processes while the driver lives: once the raylet is
        # gone its agents are orphans whose command lines no longer name the session
        with contextlib.suppress(Exception):
            known.update((p.pid, p) for p in _cluster_processes(session))
        try:
            ready, _, _ = select.select([fd], [], [], POLL_S)
            if ready and not os.read(fd, 4096):
                break  # EOF: the driver closed the pipe or died
        except OSError:
            break
    # twice: a raylet may start a worker while the first sweep runs
    sweep(session, known)
    time.sleep(0.5)
    sweep(session)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
