"""Tests that leave files in the machine's shared directories, for
tests/test_runner_shared_dirs.py (run as a user: root's runs do not watch them). Their
names start with $SHARED_DIRS_CASE, the caller's own."""

import ctypes
import os
import socket
from pathlib import Path

import pytest

NAME = os.environ.get("SHARED_DIRS_CASE", "syscalls-shared-dirs-case")
LIBC = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0


@pytest.fixture(scope="module")
def module_file():
    path = Path("/tmp", f"{NAME}-module")
    path.write_text("for the module")
    yield path
    path.unlink()


def test_leaves_a_file_in_tmp() -> None:
    Path("/tmp", f"{NAME}-file").write_text("x")


def test_leaves_a_fifo_and_a_socket_in_tmp() -> None:
    os.mkfifo(f"/tmp/{NAME}-fifo")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(f"/tmp/{NAME}-sock")


def test_leaves_shared_memory() -> None:
    os.close(os.open(f"/dev/shm/{NAME}-shm", os.O_CREAT | os.O_RDWR, 0o600))


def test_leaves_a_directory_it_cannot_read() -> None:
    inner = Path("/tmp", f"{NAME}-dir", "inner")
    inner.mkdir(parents=True)
    (inner / "f").write_text("x")
    inner.chmod(0)


def test_leaves_a_system_v_shm() -> None:
    assert LIBC.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600) >= 0


def test_leaves_a_system_v_semaphores() -> None:
    assert LIBC.semget(IPC_PRIVATE, 2, IPC_CREAT | 0o600) >= 0


def test_leaves_a_system_v_message_queue() -> None:
    assert LIBC.msgget(IPC_PRIVATE, IPC_CREAT | 0o600) >= 0


def test_removes_its_system_v_shm() -> None:
    ident = LIBC.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
    assert ident >= 0
    assert LIBC.shmctl(ident, IPC_RMID, None) == 0


def test_removes_what_it_made() -> None:
    path = Path("/dev/shm", f"{NAME}-gone")
    path.write_text("x")
    path.unlink()


def test_uses_a_module_fixture(module_file: Path) -> None:
    assert module_file.exists()


def test_after() -> None:
    pass
