"""The System V IPC objects a test leaves: shared memory segments, semaphore sets and
message queues.

As root the process that runs tests has an IPC namespace of its own
(syscalls.runner.namespaces): what a test leaves there stays out of the host's, but
stays for every later test of that worker -- a key it used is then taken (EEXIST), and
its memory held. /proc/sysvipc lists the namespace's objects; those a test added are
named and removed (IPC_RMID) by syscalls.runner.isolation. Without a namespace of its
own (a user's run) the listing is the host's, which other processes change as the test
runs: not watched.
"""

from __future__ import annotations

import contextlib

from syscalls import processes

SYSV = "System V IPC objects"
PATHS = {"shm": "/proc/sysvipc/shm", "sem": "/proc/sysvipc/sem", "msg": "/proc/sysvipc/msg"}
_IPC_RMID = 0  # linux/ipc.h
_WHAT = {"shm": "bytes", "sem": "semaphores", "msg": "bytes queued"}  # each listing's 4th column
# The columns of the creator's uid and of the last change's time in each listing
# (ipc/shm.c sysvipc_shm_proc_show, ipc/sem.c, ipc/msg.c)
_CUID_CTIME = {"shm": (9, 13), "sem": (6, 9), "msg": (9, 13)}


def objects(kind: str, text: bytes) -> dict[str, tuple[str, int | None, int | None]]:
    """ "shm 12" -> ("key 0x0, 4096 bytes", creator's uid, ctime in seconds): one per
    object of a /proc/sysvipc listing (None for a column the line lacks)."""
    found = {}
    cuid, ctime = _CUID_CTIME[kind]
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[1].isdigit():
            key = int(fields[0]) & 0xFFFFFFFF  # printed signed
            what = f"key {key:#x}, {int(fields[3])} {_WHAT[kind]}"
            made = (_column(fields, cuid), _column(fields, ctime))
            found[f"{kind} {int(fields[1])}"] = (what, *made)
    return found


def _column(fields: list[bytes], index: int) -> int | None:
    return int(fields[index]) if len(fields) > index and fields[index].isdigit() else None


def parse(kind: str, text: bytes) -> dict[str, str]:
    """ "shm 12" -> "key 0x0, 4096 bytes": one per object of a /proc/sysvipc listing."""
    return {name: what for name, (what, _, _) in objects(kind, text).items()}


def read() -> dict[str, str] | None:
    """Every object of this IPC namespace; None without /proc/sysvipc."""
    found: dict[str, str] = {}
    for kind, path in PATHS.items():
        try:
            with open(path, "rb") as f:
                found.update(parse(kind, f.read()))
        except OSError:
            return None
    return found


def remove(objects: list[str]) -> None:
    """IPC_RMID each of `objects` ("shm 12", as read names them)."""
    libc = processes.LIBC
    calls = {"shm": libc.shmctl, "sem": libc.semctl, "msg": libc.msgctl}
    for name in objects:
        kind, _, ident = name.partition(" ")
        with contextlib.suppress(Exception):
            if kind == "sem":
                calls[kind](int(ident), 0, _IPC_RMID, None)
            else:
                calls[kind](int(ident), _IPC_RMID, None)
