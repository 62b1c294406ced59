"""unshare(2) and setns(2) for UTS, PID and network namespaces, as root, in a child; the
user namespace one is in (setns refuses it), and a thread's descriptor table.

Whatever namespace a test enters dies with its in_child process; the host's hostname,
pids and interfaces are never touched. As a user, unshare of these is refused
(CAP_SYS_ADMIN; unprivileged user namespaces are not used here).
"""

import ast
import errno
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls import forking, namespaces
from syscalls.child import TIME_SCALE
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

AS_USER = pytest.mark.as_user("root may create namespaces (CAP_SYS_ADMIN)")


def _uts_file() -> str:
    """/proc/self/ns/uts, which names the UTS namespace; a skip where there is none."""
    if not os.path.exists("/proc/self/ns/uts"):
        pytest.skip("no /proc/self/ns/uts here: a UTS namespace cannot be told or entered")
    return "/proc/self/ns/uts"


def _nodename(kernel: Kernel) -> bytes:
    u = kernel.new("struct new_utsname *")
    kernel.uname(u).unwrap()
    return kernel.ffi.string(u.nodename)


@pytest.mark.root
def test_unshare_uts_starts_with_a_copy_of_the_hostname(kernel: Kernel, in_child) -> None:
    uts = _uts_file()

    host = _nodename(kernel)

    def run() -> tuple[bytes, bool]:
        before = os.stat(uts).st_ino
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
        return _nodename(kernel), os.stat(uts).st_ino != before

    name, new_ns = in_child(run)
    assert name == host
    assert new_ns


@pytest.mark.root
def test_unshare_uts_hostname_is_shared_with_children_not_the_host(
    kernel: Kernel, in_child
) -> None:
    host = _nodename(kernel)

    def run() -> int:
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
        kernel.sethostname(b"syscalls-ns", 11).unwrap()
        pid = forking.fork(kernel, lambda: 0 if _nodename(kernel) == b"syscalls-ns" else 1)
        return forking.exit_code(kernel, pid)

    assert in_child(run) == 0
    assert _nodename(kernel) == host


@pytest.mark.root
def test_setns_returns_to_the_original_uts_namespace(kernel: Kernel, in_child) -> None:
    uts = _uts_file()

    host = _nodename(kernel)

    def run() -> tuple[bytes, bytes]:
        fd = os.open(uts, os.O_RDONLY)
        kernel.unshare(kernel.CLONE_NEWUTS).unwrap()
        kernel.sethostname(b"elsewhere", 9).unwrap()
        inside = _nodename(kernel)
        kernel.setns(fd, kernel.CLONE_NEWUTS).unwrap()
        return inside, _nodename(kernel)

    assert in_child(run) == (b"elsewhere", host)


@pytest.mark.root
def test_setns_with_mismatched_type_is_einval(kernel: Kernel, in_child) -> None:
    uts = _uts_file()

    def run() -> str:
        fd = os.open(uts, os.O_RDONLY)
        return kernel.setns(fd, kernel.CLONE_NEWNET).outcome

    assert in_child(run) == "EINVAL"


def test_setns_into_its_own_user_namespace_is_einval(kernel: Kernel, in_child) -> None:
    """Re-entering the user namespace one is in would regain its capabilities: refused."""
    if not os.path.exists("/proc/self/ns/user"):
        pytest.skip("no /proc/self/ns/user here: the user namespace cannot be named")

    def run() -> str:
        fd = os.open("/proc/self/ns/user", os.O_RDONLY)
        return kernel.setns(fd, kernel.CLONE_NEWUSER).outcome

    assert in_child(run) == "EINVAL"


def test_unshare_files_in_a_thread_gives_it_a_table_of_its_own(kernel: Kernel, in_child) -> None:
    """A thread shares its process's descriptor table until unshare(CLONE_FILES); a close
    after that closes its copy, not the process's."""

    def run() -> tuple[str, str]:
        _rfd, wfd = os.pipe()
        unshared: list[str] = []

        def thread() -> None:
            unshared.append(kernel.unshare(kernel.CLONE_FILES).outcome)
            os.close(wfd)

        t = threading.Thread(target=thread)
        t.start()
        t.join()
        return unshared[0], kernel.fcntl(wfd, kernel.F_GETFD, 0).outcome

    assert in_child(run) == ("ok", "ok")


@pytest.mark.root
def test_unshare_pid_makes_the_next_child_pid_1(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int, int]:
        me = os.getpid()
        kernel.unshare(kernel.CLONE_NEWPID).unwrap()
        still = kernel.getpid().unwrap() - me  # the caller itself does not move
        ok = lambda: 0 if (kernel.getpid().value, kernel.getppid().value) == (1, 0) else 1  # noqa: E731
        pid = forking.fork(kernel, ok)
        return still, pid, forking.exit_code(kernel, pid)

    still, outside_pid, code = in_child(run)
    assert still == 0
    assert outside_pid != 1  # the parent sees it by its pid in the outer namespace
    assert code == 0


@pytest.mark.root
def test_fork_after_pid_namespace_init_exits_is_enomem(kernel: Kernel, in_child) -> None:
    def run() -> str:
        kernel.unshare(kernel.CLONE_NEWPID).unwrap()
        forking.wait(kernel, forking.fork(kernel))  # pid 1 of the namespace is gone
        r = kernel.fork()
        if r.value == 0:
            os._exit(0)
        return r.outcome

    assert in_child(run) == "ENOMEM"


# Every new network namespace also gets the fallback device of each IP tunnel driver
# built in or loaded (unless net.core.fb_tunnels_only_for_init_net is set): sit0 where
# CONFIG_IPV6_SIT=y, as in a kernel built from tinyconfig with IPv6. Distro kernels have
# them as modules, usually not loaded. Names from net/ipv4 and net/ipv6 (Linux 6.1).
FALLBACK_TUNNELS = {
    "sit0",
    "tunl0",
    "gre0",
    "gretap0",
    "erspan0",
    "ip_vti0",
    "ip6tnl0",
    "ip6gre0",
    "ip6_vti0",
}


@pytest.mark.root
def test_unshare_net_has_only_loopback(kernel: Kernel, in_child) -> None:
    def run() -> list[str]:
        kernel.unshare(kernel.CLONE_NEWNET).unwrap()
        with open("/proc/self/net/dev") as f:
            lines = f.read().splitlines()[2:]  # two header lines
        return sorted(line.split(":")[0].strip() for line in lines)

    devices = in_child(run)
    assert [d for d in devices if d not in FALLBACK_TUNNELS] == ["lo"], devices


@pytest.mark.root
def test_unshare_net_loopback_starts_down(kernel: Kernel, in_child) -> None:
    def run() -> str:
        kernel.unshare(kernel.CLONE_NEWNET).unwrap()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = kernel.new("struct sockaddr_in *")
        addr.sin_family = socket.AF_INET
        addr.sin_port = socket.htons(9)
        addr.sin_addr.s_addr = socket.htonl(0x7F000001)
        size = kernel.ffi.sizeof("struct sockaddr_in")
        return kernel.connect(s.fileno(), addr, size).outcome

    assert in_child(run) == "ENETUNREACH"


def test_unshare_unknown_flag_is_einval(kernel: Kernel, in_child) -> None:
    assert in_child(lambda: kernel.unshare(1).outcome) == "EINVAL"


@AS_USER
@pytest.mark.parametrize("flag", ["CLONE_NEWUTS", "CLONE_NEWPID", "CLONE_NEWNET"])
def test_unshare_without_privilege_is_eperm(kernel: Kernel, in_child, flag: str) -> None:
    assert in_child(lambda: kernel.unshare(getattr(kernel, flag)).outcome) == "EPERM"


# Entering a namespace, even the one the caller is in already, is each kind's own
# install check (CAP_SYS_ADMIN in its owner and the caller's user namespace; mnt also
# CAP_SYS_CHROOT): utsns_install, ipcns_install, netns_install, mntns_install,
# pidns_install, cgroupns_install, timens_install.
@AS_USER
@pytest.mark.parametrize(
    ("name", "flag"),
    [("uts", "CLONE_NEWUTS"), ("ipc", "CLONE_NEWIPC"), ("net", "CLONE_NEWNET"),
     ("mnt", "CLONE_NEWNS"), ("pid", "CLONE_NEWPID"), ("cgroup", "CLONE_NEWCGROUP"),
     ("time", "CLONE_NEWTIME")],
)  # fmt: skip
def test_setns_to_the_own_namespace_without_privilege_is_eperm(
    kernel: Kernel, in_child, name: str, flag: str
) -> None:
    path = f"/proc/self/ns/{name}"
    if not os.path.exists(path):
        pytest.skip(f"no {path} here: this kernel has no {name} namespaces")

    def run() -> str:
        fd = os.open(path, os.O_RDONLY)
        return kernel.setns(fd, getattr(kernel, flag)).outcome

    assert in_child(run) == "EPERM"


@pytest.fixture
def userns_clone_off() -> Iterator[None]:
    """kernel.unprivileged_userns_clone (Debian's patch, kernel/fork.c) at 0 for the test
    (a fixture: root's in a root run), put back at teardown; a skip where a kernel has
    no such setting."""
    path = Path("/proc/sys/kernel/unprivileged_userns_clone")
    if not path.exists():
        pytest.skip(f"{path} is not there: this kernel has no such switch (it is Debian's)")
    before = path.read_text()
    path.write_text("0\n")
    try:
        yield
    finally:
        path.write_text(before)


# With Debian's kernel.unprivileged_userns_clone at 0, a new user namespace is
# CAP_SYS_ADMIN's (kernel/fork.c copy_process and ksys_unshare).
@pytest.mark.disposable  # the machine-wide switch is turned off for it
@AS_USER
def test_new_user_namespace_when_unprivileged_userns_clone_is_off_is_eperm(
    kernel: Kernel, in_child, userns_clone_off
) -> None:
    def run() -> tuple[str, str]:
        unshared = kernel.unshare(kernel.CLONE_NEWUSER).outcome
        r = kernel.clone(kernel.CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)
        if r.ok:
            forking.child_side(r.value)
            forking.wait(kernel, r.value)
        return unshared, r.outcome

    assert in_child(run) == ("EPERM", "EPERM")


# -- a PID namespace's init, and time namespaces ---------------------------------------


@pytest.mark.root
def test_pid_namespace_init_ignores_a_fatal_signal_it_has_no_handler_for(
    kernel: Kernel, in_child
) -> None:
    """Inside its namespace, init is not killed by a signal left at its default action
    (kernel/signal.c: SIGNAL_UNKILLABLE); it goes on and exits as it likes."""

    def init() -> int:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        kernel.kill(1, signal.SIGTERM).unwrap()  # itself, as the namespace sees it
        return 7 if kernel.getpid().value == 1 else 1

    def run() -> int:
        kernel.unshare(kernel.CLONE_NEWPID).unwrap()
        return forking.wait(kernel, forking.fork(kernel, init))

    status = in_child(run)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7, hex(status)


@pytest.mark.root
def test_pid_namespace_init_exit_kills_every_process_left_in_it(kernel: Kernel, in_child):
    """The namespace's second process holds a pipe's write end and waits forever; once
    init exits, the kernel kills it (zap_pid_ns_processes): the read end sees EOF."""

    def run() -> bytes:
        r, w = os.pipe()

        def init() -> int:
            os.close(r)
            forking.fork(kernel, lambda: signal.pause())  # pid 2: waits for anything
            return 0  # init exits, the pipe's other holder with it

        kernel.unshare(kernel.CLONE_NEWPID).unwrap()
        pid = forking.fork(kernel, init)
        os.close(w)
        assert forking.exit_code(kernel, pid) == 0
        ready = select.select([r], [], [], 10 * TIME_SCALE)[0]
        return os.read(r, 1) if ready else b"still held"

    assert in_child(run) == b""  # EOF: no process holds the write end any more


def _time_namespace(kernel: Kernel) -> None:
    """unshare(CLONE_NEWTIME) for this process's next children: root's, or inside a user
    namespace; a skip where the kernel has no time namespaces (Linux < 5.6, or not
    configured)."""
    if not os.path.exists("/proc/self/timens_offsets"):
        pytest.skip("no /proc/self/timens_offsets: no time namespaces (CONFIG_TIME_NS)")
    if os.geteuid() != 0:
        namespaces.user_namespace_or_skip(kernel)
    kernel.unshare(kernel.CLONE_NEWTIME).unwrap()


def _write(path: str, text: str) -> str:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        return errno.errorcode[e.errno]
    try:
        os.write(fd, text.encode())
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        os.close(fd)
    return "ok"


def test_time_namespace_offsets_shift_monotonic_and_boottime_for_children(
    kernel: Kernel, in_child
) -> None:
    day = 86400

    def clocks() -> list[int]:
        """Monotonic and boottime seconds by the syscall, then by the vDSO (the C
        library's clock_gettime), which reads the namespace's offsets its own way."""
        ts = kernel.new("struct timespec *")
        raw = []
        for clock in (kernel.CLOCK_MONOTONIC, kernel.CLOCK_BOOTTIME):
            kernel.clock_gettime(clock, ts).unwrap()
            raw.append(ts.tv_sec)
        vdso = [
            time.clock_gettime_ns(c) // 10**9 for c in (time.CLOCK_MONOTONIC, time.CLOCK_BOOTTIME)
        ]
        return raw + vdso

    def run() -> tuple[str, list[int], list[int]]:
        _time_namespace(kernel)
        wrote = _write("/proc/self/timens_offsets", f"monotonic {day} 0\nboottime {2 * day} 0\n")
        outside = clocks()
        r, w = os.pipe()
        pid = forking.fork(kernel, lambda: os.write(w, repr(clocks()).encode()) and 0)
        assert forking.exit_code(kernel, pid) == 0
        return wrote, outside, ast.literal_eval(os.read(r, 128).decode())

    wrote, outside, inside = in_child(run)
    assert wrote == "ok"
    ahead = [i - o for i, o in zip(inside, outside, strict=True)]
    # a day for monotonic, two for boottime, read either way (give or take the fork)
    shifts = [day, 2 * day, day, 2 * day]
    assert all(0 <= a - s <= 5 for a, s in zip(ahead, shifts, strict=True)), ahead


def test_time_namespace_refuses_a_realtime_offset(kernel: Kernel, in_child) -> None:
    def run() -> str:
        _time_namespace(kernel)
        return _write("/proc/self/timens_offsets", "realtime 100 0\n")

    assert in_child(run) == "EINVAL"  # only monotonic and boottime may be offset


def test_time_namespace_offsets_are_fixed_once_a_process_entered_it(
    kernel: Kernel, in_child
) -> None:
    def run() -> str:
        _time_namespace(kernel)
        pid = forking.fork(kernel)  # enters the namespace (and exits)
        forking.exit_code(kernel, pid)
        return _write("/proc/self/timens_offsets", "monotonic 100 0\n")

    assert in_child(run) == "EACCES"
