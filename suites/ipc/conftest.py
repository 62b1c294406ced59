"""Fixtures for the ipc suite: System V objects removed after the test, whatever it did.

`sysv` creates IPC_PRIVATE segments, semaphore sets and message queues and
removes them (IPC_RMID) at teardown, detaching what is still attached. Teardown calls
go straight to libc, so they are not recorded as the test's observations.
"""

from __future__ import annotations

from collections.abc import Iterator

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
