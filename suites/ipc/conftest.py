"""Fixtures for the ipc suite: System V objects removed after the test, whatever it did.

`sysv` creates IPC_PRIVATE segments, semaphore sets and message queues (or, `keyed`,
ones under a key of their own) and removes them (IPC_RMID) at teardown, detaching what
is still attached. Teardown calls
go straight to libc, so they are not recorded as the test's observations.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator

import pytest

from syscalls.kernel import Kernel, Result


class SysV:
    """System V IPC objects a test created; all are removed at teardown."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.ids: list[tuple[str, int]] = []  # (ctl syscall, id)
        self.attached: list[int] = []

    def shm(self, size: int, flags: int = 0o600) -> int:
        k = self.kernel
        shmid = k.shmget(k.IPC_PRIVATE, size, k.IPC_CREAT | flags).unwrap()
        self.ids.append(("shmctl", shmid))
        return shmid

    def shmat(self, shmid: int, flags: int = 0) -> int:
        addr = self.kernel.shmat(shmid, None, flags).unwrap()
        self.attached.append(addr)
        return addr

    def shmdt(self, addr: int) -> Result:
        self.attached.remove(addr)
        return self.kernel.shmdt(addr)

    def sem(self, nsems: int = 1, flags: int = 0o600) -> int:
        k = self.kernel
        semid = k.semget(k.IPC_PRIVATE, nsems, k.IPC_CREAT | flags).unwrap()
        self.ids.append(("semctl", semid))
        return semid

    def msg(self, flags: int = 0o600) -> int:
        k = self.kernel
        msqid = k.msgget(k.IPC_PRIVATE, k.IPC_CREAT | flags).unwrap()
        self.ids.append(("msgctl", msqid))
        return msqid

    def keyed(self, kind: str, mode: int) -> tuple[int, int]:
        """A new object of `kind` ("shm", "sem" or "msg") with `mode`, under a key no
        other has (made exclusively, unrecorded: the key is random): (key, id)."""
        k = self.kernel
        flags = k.IPC_CREAT | k.IPC_EXCL | mode
        with k.unobserved():
            for _ in range(100):
                key = random.randrange(1, 1 << 31)
                if kind == "shm":
                    r = k.shmget(key, 4096, flags)
                elif kind == "sem":
                    r = k.semget(key, 1, flags)
                else:
                    r = k.msgget(key, flags)
                if r.errno != "EEXIST":
                    self.ids.append((f"{kind}ctl", r.unwrap()))
                    return key, r.value
        raise AssertionError(f"no free System V {kind} key in 100 tries")

    def remove(self, ctl: str, ident: int) -> Result:
        """The test removes an object itself (recorded); teardown forgets it, since its
        id may be handed to another test's new object at once."""
        self.ids.remove((ctl, ident))
        k = self.kernel
        if ctl == "semctl":
            return k.semctl(ident, 0, k.IPC_RMID, 0)
        return getattr(k, ctl)(ident, k.IPC_RMID, None)

    def _raw(self, name: str, *args: int) -> int:
        k = self.kernel
        nr = k.ffi.cast("long", k.platform.syscalls[k.platform.resolve(name)])
        return int(k.libc.syscall(nr, *(k.ffi.cast("long", a) for a in args)))

    def release(self) -> None:
        k = self.kernel
        for addr in self.attached:
            self._raw("shmdt", addr)
        for ctl, ident in self.ids:
            if ctl == "semctl":
                self._raw(ctl, ident, 0, k.IPC_RMID, 0)
            else:
                self._raw(ctl, ident, k.IPC_RMID, 0)
        self.attached.clear()
        self.ids.clear()


@pytest.fixture
def sysv(kernel: Kernel) -> Iterator[SysV]:
    holder = SysV(kernel)
    try:
        yield holder
    finally:
        holder.release()


@pytest.fixture
def anothers(request: pytest.FixtureRequest, sysv: SysV) -> tuple[int, int]:
    """(key, id) of an object of root's, made at setup (an as_user test's fixtures are
    root's, its body nobody's), of the kind and mode the test parametrizes it with:
    `@pytest.mark.parametrize("anothers", [("msg", 0o600)], indirect=True)`. A skip in
    a user's run, where no object of another user can be made."""
    kind, mode = request.param
    if os.geteuid() != 0:
        pytest.skip(f"only root can make a System V {kind} object of another user's")
    return sysv.keyed(kind, mode)


@pytest.fixture
def stat_by_index() -> Callable[..., tuple[dict[int, int], str]]:
    return _stat_by_index


def _stat_by_index(
    stat: Callable[[int], Result], top: int, figure: Callable[[], int]
) -> tuple[dict[int, int], str]:
    """MSG_STAT, SEM_STAT or SHM_STAT (`stat(index)`) over every index up to `top`: each
    object's id, with `figure()` read from what the call filled, and the outcome one
    index past the top."""
    found = {}
    for index in range(top + 1):
        r = stat(index)
        if r.ok:
            found[r.value] = figure()
    return found, stat(top + 1).outcome
