"""userfaultfd(2): page faults on a registered range reported to the process through an
fd, and resolved by it (UFFDIO_API handshake, UFFDIO_REGISTER, UFFDIO_COPY/ZEROPAGE).

/proc/sys/vm/unprivileged_userfaultfd decides for a user: at 0 (the default since
5.11) only UFFD_USER_MODE_ONLY descriptors, which handle faults taken in user mode; a
fault the kernel takes while copying (write() from the page) is then EFAULT. The tests
use user-mode-only descriptors unless they say otherwise, so they run for anyone.

The faulting access must not hold Python's interpreter lock while it waits, or the
thread resolving it could never run: it is the C library's memcpy, called through
cffi (which lets the lock go around every C call), in a second thread. Everything runs
in a child, so that a stuck fault can only cost the child.
"""

import os
import resource
import signal
import threading
from pathlib import Path
from typing import Any

import cffi
import pytest

from syscalls import forking, readiness
from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("5.11")]

_SYSCTL = Path("/proc/sys/vm/unprivileged_userfaultfd")
UNPRIVILEGED = int(_SYSCTL.read_text()) if _SYSCTL.exists() else 1
MAY_HANDLE_KERNEL_FAULTS = os.geteuid() == 0 or UNPRIVILEGED == 1
kernel_faults = pytest.mark.skipif(
    not MAY_HANDLE_KERNEL_FAULTS,
    reason="unprivileged_userfaultfd = 0: a user's descriptor is user-mode only",
)


def USER_REFUSED(test: Any) -> Any:
    """What unprivileged_userfaultfd = 0 refuses a user (run as one: syscalls.as_user)."""
    test = pytest.mark.skipif(
        UNPRIVILEGED == 1, reason="unprivileged_userfaultfd = 1: users may handle them"
    )(test)
    return pytest.mark.as_user("root may handle kernel-mode faults (CAP_SYS_PTRACE)")(test)


COPY, ZEROPAGE, WAKE = 1 << 3, 1 << 4, 1 << 2  # _UFFDIO_* bits in uffdio_register.ioctls

_c = cffi.FFI()
_c.cdef("void *memcpy(void *, const void *, size_t); void *memset(void *, int, size_t);")
_C = _c.dlopen(None)


def _uffd(kernel: Kernel, user_only: bool = True, handshake: bool = True) -> int:
    flags = kernel.O_CLOEXEC | kernel.O_NONBLOCK | (kernel.UFFD_USER_MODE_ONLY if user_only else 0)
    fd = kernel.userfaultfd(flags).unwrap()
    if handshake:
        api = kernel.new("struct uffdio_api *", [kernel.UFFD_API, 0, 0])
        kernel.ioctl(fd, kernel.UFFDIO_API, api).unwrap()
    return fd


def _register(kernel: Kernel, fd: int, addr: int, length: int, mode: int | None = None):
    reg = kernel.new("struct uffdio_register *")
    reg.range.start, reg.range.len = addr, length
    reg.mode = kernel.UFFDIO_REGISTER_MODE_MISSING if mode is None else mode
    return kernel.ioctl(fd, kernel.UFFDIO_REGISTER, reg), reg


def _next_event(kernel: Kernel, fd: int) -> Any:
    p = kernel.new("struct pollfd *", (fd, kernel.POLLIN, 0))
    readiness.poll(kernel, p, 1, 5000).unwrap()
    msg = kernel.new("struct uffd_msg *")
    kernel.read(fd, msg, kernel.ffi.sizeof(msg[0])).unwrap()
    return msg


def _copy(kernel: Kernel, fd: int, dst: int, data: bytes) -> Any:
    src = kernel.buf(data)
    op = kernel.new("struct uffdio_copy *")
    op.dst, op.src = dst, kernel.address(src)
    op.len = len(data)
    r = kernel.ioctl(fd, kernel.UFFDIO_COPY, op)
    return r, op


def _in_thread(fn) -> threading.Thread:
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def test_handshake_reports_the_api_ioctls(kernel: Kernel) -> None:
    fd = _uffd(kernel, handshake=False)
    try:
        api = kernel.new("struct uffdio_api *", [kernel.UFFD_API, 0, 0])
        kernel.ioctl(fd, kernel.UFFDIO_API, api).unwrap()
        assert api.ioctls & kernel.UFFD_API_IOCTLS == kernel.UFFD_API_IOCTLS
    finally:
        os.close(fd)


def test_handshake_with_another_api_is_einval(kernel: Kernel) -> None:
    fd = _uffd(kernel, handshake=False)
    try:
        api = kernel.new("struct uffdio_api *", [kernel.UFFD_API + 1, 0, 0])
        assert kernel.ioctl(fd, kernel.UFFDIO_API, api).errno == "EINVAL"
    finally:
        os.close(fd)


def test_handshake_with_an_unknown_feature_is_einval(kernel: Kernel) -> None:
    fd = _uffd(kernel, handshake=False)
    try:
        api = kernel.new("struct uffdio_api *", [kernel.UFFD_API, 1 << 62, 0])
        assert kernel.ioctl(fd, kernel.UFFDIO_API, api).errno == "EINVAL"
    finally:
        os.close(fd)


def test_register_before_the_handshake_is_einval(kernel: Kernel, maps, page: int) -> None:
    fd = _uffd(kernel, handshake=False)
    try:
        assert _register(kernel, fd, maps.anon(page), page)[0].errno == "EINVAL"
    finally:
        os.close(fd)


def test_register_reports_the_range_ioctls(kernel: Kernel, maps, page: int) -> None:
    fd = _uffd(kernel)
    try:
        r, reg = _register(kernel, fd, maps.anon(page), page)
        r.unwrap()
        assert reg.ioctls & (COPY | ZEROPAGE | WAKE) == COPY | ZEROPAGE | WAKE
    finally:
        os.close(fd)


@pytest.mark.parametrize("case", ["unaligned", "no-mode"])
def test_register_bad_range_or_mode_is_einval(kernel: Kernel, maps, page: int, case: str) -> None:
    fd = _uffd(kernel)
    addr = maps.anon(page)
    try:
        if case == "unaligned":
            r = _register(kernel, fd, addr + 8, page)[0]
        else:
            r = _register(kernel, fd, addr, page, mode=0)[0]
        assert r.errno == "EINVAL"
    finally:
        os.close(fd)


def test_read_without_an_event_is_eagain(kernel: Kernel) -> None:
    fd = _uffd(kernel)
    try:
        msg = kernel.new("struct uffd_msg *")
        assert kernel.read(fd, msg, kernel.ffi.sizeof(msg[0])).errno == "EAGAIN"
    finally:
        os.close(fd)


def test_read_into_less_than_a_message_is_einval(kernel: Kernel) -> None:
    fd = _uffd(kernel)
    try:
        assert kernel.read(fd, kernel.buf(16), 16).errno == "EINVAL"
    finally:
        os.close(fd)


def test_userfaultfd_unknown_flags_are_einval(kernel: Kernel) -> None:
    assert kernel.userfaultfd(kernel.UFFD_USER_MODE_ONLY | 1 << 20).errno == "EINVAL"


@USER_REFUSED
def test_kernel_mode_faults_without_privilege_are_eperm(kernel: Kernel) -> None:
    assert kernel.userfaultfd(kernel.O_CLOEXEC).errno == "EPERM"


# Fork events hand the handler the child's memory: CAP_SYS_PTRACE's (fs/userfaultfd.c
# userfaultfd_api), whatever unprivileged_userfaultfd says.
@pytest.mark.as_user("root may ask for fork events (CAP_SYS_PTRACE)")
def test_handshake_asking_for_fork_events_as_a_user_is_eperm(kernel: Kernel) -> None:
    fd = _uffd(kernel, handshake=False)
    try:
        api = kernel.new(
            "struct uffdio_api *", [kernel.UFFD_API, kernel.UFFD_FEATURE_EVENT_FORK, 0]
        )
        assert kernel.ioctl(fd, kernel.UFFDIO_API, api).errno == "EPERM"
    finally:
        os.close(fd)


def test_a_fault_in_another_thread_is_reported_and_resolved_by_copy(
    kernel: Kernel, maps, page: int, in_child
) -> None:
    def run() -> tuple[int, int, int, int, bytes]:
        fd = _uffd(kernel)
        addr = maps.anon(page)
        _register(kernel, fd, addr, page)[0].unwrap()
        out = _c.new("char[16]")
        reader = _in_thread(lambda: _C.memcpy(out, _c.cast("void *", addr + 64), 16))
        msg = _next_event(kernel, fd)
        r, op = _copy(kernel, fd, addr, bytes(range(256)) * (page // 256))
        reader.join(5)
        return (
            msg.event,
            msg.arg.pagefault.address,
            msg.arg.pagefault.flags & kernel.UFFD_PAGEFAULT_FLAG_WRITE,
            op.copy if r.ok else -1,
            bytes(_c.buffer(out)),
        )

    event, address, write, copied, seen = in_child(run)
    assert event == kernel.UFFD_EVENT_PAGEFAULT
    assert address & ~(page - 1) == address  # the faulting page, page-aligned
    assert write == 0
    assert copied == page
    assert seen == bytes(range(64, 80))


def test_a_write_fault_is_flagged_and_zeropage_resolves_it(
    kernel: Kernel, maps, page: int, in_child
) -> None:
    def run() -> tuple[int, int, bytes]:
        fd = _uffd(kernel)
        addr = maps.anon(page)
        _register(kernel, fd, addr, page)[0].unwrap()
        writer = _in_thread(lambda: _C.memset(_c.cast("void *", addr + 8), 0x41, 4))
        msg = _next_event(kernel, fd)
        zero = kernel.new("struct uffdio_zeropage *")
        zero.range.start, zero.range.len = addr, page
        kernel.ioctl(fd, kernel.UFFDIO_ZEROPAGE, zero).unwrap()
        writer.join(5)
        flags = msg.arg.pagefault.flags & kernel.UFFD_PAGEFAULT_FLAG_WRITE
        return flags, zero.zeropage, kernel.bytes(kernel.ffi.cast("char *", addr), 16)

    flags, zeroed, head = in_child(run)
    assert flags == kernel.UFFD_PAGEFAULT_FLAG_WRITE
    assert zeroed == page
    assert head == bytes(8) + b"AAAA" + bytes(4)  # zero page, then the retried write


def test_copy_onto_a_page_already_present_is_eexist(
    kernel: Kernel, maps, page: int, in_child
) -> None:
    def run() -> tuple[str, str]:
        fd = _uffd(kernel)
        addr = maps.anon(page)
        _register(kernel, fd, addr, page)[0].unwrap()
        first = _copy(kernel, fd, addr, b"a" * page)[0].outcome
        return first, _copy(kernel, fd, addr, b"b" * page)[0].outcome

    assert in_child(run) == ("ok", "EEXIST")


def test_copy_into_a_range_not_registered_is_enoent(
    kernel: Kernel, maps, page: int, in_child
) -> None:
    def run() -> str:
        fd = _uffd(kernel)
        return _copy(kernel, fd, maps.anon(page), b"a" * page)[0].outcome

    assert in_child(run) == "ENOENT"


def test_after_unregister_a_fault_is_an_ordinary_zero_fill(
    kernel: Kernel, maps, page: int, in_child
) -> None:
    def run() -> tuple[bytes, str]:
        fd = _uffd(kernel)
        addr = maps.anon(page)
        _register(kernel, fd, addr, page)[0].unwrap()
        rng = kernel.new("struct uffdio_range *", [addr, page])
        kernel.ioctl(fd, kernel.UFFDIO_UNREGISTER, rng).unwrap()
        head = kernel.bytes(kernel.ffi.cast("char *", addr), 8)  # no event: would block
        msg = kernel.new("struct uffd_msg *")
        return head, kernel.read(fd, msg, kernel.ffi.sizeof(msg[0])).outcome

    assert in_child(run) == (bytes(8), "EAGAIN")


@pytest.mark.requires("uffd_kernel_faults")
def test_user_mode_only_leaves_a_kernel_fault_efault(
    kernel: Kernel, maps, page: int, in_child
) -> None:
    """write() copying from the registered page faults in the kernel: not handled."""

    def run() -> str:
        fd = _uffd(kernel, user_only=True)
        addr = maps.anon(page)
        _register(kernel, fd, addr, page)[0].unwrap()
        _rfd, wfd = os.pipe()
        return kernel.write(wfd, addr, 16).outcome

    assert in_child(run) == "EFAULT"


@kernel_faults
def test_a_kernel_mode_fault_is_reported_and_the_call_completes(
    kernel: Kernel, maps, page: int, in_child
) -> None:
    """write() from a missing page blocks in the kernel until the page is copied in."""

    def run() -> tuple[int, int, bytes]:
        fd = _uffd(kernel, user_only=False)
        addr = maps.anon(page)
        _register(kernel, fd, addr, page)[0].unwrap()
        rfd, wfd = os.pipe()
        results: list[Any] = []
        writer = _in_thread(lambda: results.append(kernel.write(wfd, addr, 16)))
        msg = _next_event(kernel, fd)
        _copy(kernel, fd, addr, b"kernel-read-this" * (page // 16))[0].unwrap()
        writer.join(5)
        return msg.event, results[0].unwrap(), os.read(rfd, 16)

    assert in_child(run) == (kernel.UFFD_EVENT_PAGEFAULT, 16, b"kernel-read-this")


def test_sigbus_feature_makes_faults_sigbus(kernel: Kernel, maps, page: int, in_child) -> None:
    """With UFFD_FEATURE_SIGBUS a fault is not reported: the faulting process gets
    SIGBUS. Set up in the raw child that takes the fault (and dies of it)."""

    def run() -> int:
        os.close(_uffd(kernel))  # here, where ENOSYS can still become a skip
        addr = maps.anon(page)

        def child() -> int:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            fd = kernel.userfaultfd(kernel.O_CLOEXEC | kernel.UFFD_USER_MODE_ONLY).unwrap()
            features = kernel.UFFD_FEATURE_SIGBUS
            api = kernel.new("struct uffdio_api *", [kernel.UFFD_API, features, 0])
            kernel.ioctl(fd, kernel.UFFDIO_API, api).unwrap()
            _register(kernel, fd, addr, page)[0].unwrap()
            _C.memset(_c.cast("void *", addr), 1, 1)
            return 3

        status = forking.wait(kernel, forking.fork(kernel, child))
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)

    assert in_child(run) == signal.SIGBUS


def test_registration_is_not_inherited_by_fork(kernel: Kernel, maps, page: int, in_child) -> None:
    """Without UFFD_FEATURE_EVENT_FORK the child's copy of the range is ordinary memory:
    its fault is a plain zero fill, and the parent hears of nothing."""

    def run() -> tuple[int, str]:
        fd = _uffd(kernel)
        addr = maps.anon(page)
        _register(kernel, fd, addr, page)[0].unwrap()
        probe = _c.new("char[4]", b"\xff\xff\xff")

        def child() -> int:
            _C.memcpy(probe, _c.cast("void *", addr), 4)  # would wait forever if registered
            return 0 if bytes(_c.buffer(probe)) == bytes(4) else 1

        code = forking.exit_code(kernel, forking.fork(kernel, child))
        msg = kernel.new("struct uffd_msg *")
        return code, kernel.read(fd, msg, kernel.ffi.sizeof(msg[0])).outcome

    assert in_child(run) == (0, "EAGAIN")
