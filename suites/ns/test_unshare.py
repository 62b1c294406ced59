"""unshare(2) and setns(2) for UTS, PID and network namespaces, as root, in a child; the
user namespace one is in (setns refuses it), and a thread's descriptor table.

Whatever namespace a test enters dies with its in_child process; the host's hostname,
pids and interfaces are never touched. As a user, unshare of these is refused
(CAP_SYS_ADMIN; unprivileged user namespaces are not used here).
"""

import os
import socket
import threading

import pytest

from syscalls import forking
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
