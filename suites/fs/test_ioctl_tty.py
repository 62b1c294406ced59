"""ioctl(2) on pseudo-terminals, and vhangup(2): the pty pair (TIOCSPTLCK, TIOCGPTN,
TIOCGPTPEER), the line discipline's termios (TCGETS/TCSETS) and what canonical or raw
mode makes a read return, window sizes (TIOCGWINSZ/TIOCSWINSZ), FIONREAD, packet mode,
controlling terminals and hang-ups.

A master comes from /dev/ptmx (opened O_NOCTTY, so no test takes a controlling
terminal unless it says so, in a child); the slave is locked until TIOCSPTLCK(0)
(drivers/tty/pty.c). New ptys start with tty_std_termios (drivers/tty/tty_io.c):
ICANON, ECHO, ISIG, IEXTEN in c_lflag, OPOST|ONLCR in c_oflag, ICRNL|IXON in c_iflag.
Input written on the master reaches the slave through a work queue: tests wait with
poll before they count what arrived. vhangup needs CAP_SYS_TTY_CONFIG in the initial
user namespace; a hung-up tty reads end of file and refuses writes with EIO.
"""

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from syscalls import forking, namespaces, readiness, sysctl
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

PTMX = "/dev/ptmx"


def _int(kernel: Kernel, value: int = 0):
    return kernel.new("int *", value)


def _ready(kernel: Kernel, fd: int, timeout_ms: int = 2000) -> int:
    p = kernel.new("struct pollfd *", (fd, kernel.POLLIN, 0))
    readiness.poll(kernel, p, 1, timeout_ms).unwrap()
    return p.revents


def _read(kernel: Kernel, fd: int, n: int = 256) -> bytes:
    buf = kernel.buf(n)
    return kernel.bytes(buf, kernel.read(fd, buf, n).unwrap())


def _read_ready(kernel: Kernel, fd: int, size: int) -> bytes:
    """What arrives on fd, read until `size` bytes have come or nothing more does: a
    write's output reaches the other end in pieces (n_tty puts ONLCR's "\r\n" after
    the text, and the pty pushes each piece to its peer's buffer from a work queue)."""
    got = b""
    while len(got) < size and _ready(kernel, fd) & kernel.POLLIN:
        got += _read(kernel, fd, size - len(got))
    assert got, "nothing arrived"
    return got


def _termios(kernel: Kernel, fd: int):
    t = kernel.new("struct termios *")
    kernel.ioctl(fd, kernel.TCGETS, t).unwrap()
    return t


class Pty:
    def __init__(self, kernel: Kernel, fds) -> None:
        self.kernel, self.fds = kernel, fds
        k = kernel
        r = k.openat(k.AT_FDCWD, PTMX, k.O_RDWR | k.O_NOCTTY | k.O_CLOEXEC)
        if r.errno in ("ENOENT", "ENXIO", "ENODEV"):
            pytest.skip(f"no Unix98 ptys here ({PTMX}: {r.errno})")
        self.master = fds(r)
        n = k.new("unsigned int *")
        k.ioctl(self.master, k.TIOCGPTN, n).unwrap()
        self.path = Path(f"/dev/pts/{n[0]}")

    def unlock(self) -> None:
        self.kernel.ioctl(self.master, self.kernel.TIOCSPTLCK, _int(self.kernel, 0)).unwrap()

    def open_slave(self, flags: int = 0):
        k = self.kernel
        return k.openat(k.AT_FDCWD, self.path, k.O_RDWR | k.O_NOCTTY | k.O_CLOEXEC | flags)

    def slave(self, flags: int = 0) -> int:
        self.unlock()
        return self.fds(self.open_slave(flags))

    def hand_to(self, uid: int, gid: int) -> None:
        """The slave as a user who opened the master owns it (syscalls.as_user)."""
        os.chown(self.path, uid, gid)

    def set_lflag(self, fd: int, on: int = 0, off: int = 0, vmin: int = 1) -> None:
        k = self.kernel
        t = _termios(k, fd)
        t.c_lflag = (t.c_lflag | on) & ~off
        t.c_cc[k.VMIN], t.c_cc[k.VTIME] = vmin, 0
        k.ioctl(fd, k.TCSETS, t).unwrap()


@pytest.fixture
def pty(kernel: Kernel, fds) -> Pty:
    return Pty(kernel, fds)


# --- the pair ---------------------------------------------------------------------------


def test_tiocgptn_names_a_slave_that_opens_once_unlocked(kernel: Kernel, pty: Pty, fds) -> None:
    assert pty.path.exists()
    slave = pty.slave()
    assert kernel.write(slave, b"x", 1).unwrap() == 1
    assert _read_ready(kernel, pty.master, 1) == b"x"


def test_slave_of_a_locked_pty_does_not_open_eio(pty: Pty) -> None:
    assert pty.open_slave().errno == "EIO"


def test_tiocgptlck_reads_the_lock_set_at_open_and_cleared_by_tiocsptlck(
    kernel: Kernel, pty: Pty
) -> None:
    lock = _int(kernel, 7)
    kernel.ioctl(pty.master, kernel.TIOCGPTLCK, lock).unwrap()
    before = lock[0]
    pty.unlock()
    kernel.ioctl(pty.master, kernel.TIOCGPTLCK, lock).unwrap()
    assert (before, lock[0]) == (1, 0)


def test_tiocsptlck_relocks_a_pty(kernel: Kernel, pty: Pty) -> None:
    pty.unlock()
    kernel.ioctl(pty.master, kernel.TIOCSPTLCK, _int(kernel, 1)).unwrap()
    assert pty.open_slave().errno == "EIO"


@pytest.mark.min_kernel("4.13")
def test_tiocgptpeer_opens_the_slave_through_the_master(kernel: Kernel, pty: Pty, fds) -> None:
    pty.unlock()
    slave = fds(kernel.ioctl(pty.master, kernel.TIOCGPTPEER, kernel.O_RDWR | kernel.O_NOCTTY))
    kernel.write(pty.master, b"peer\n", 5).unwrap()
    assert _read_ready(kernel, slave, 5) == b"peer\n"


@pytest.mark.min_kernel("4.13")
def test_tiocgptpeer_with_o_cloexec_sets_fd_cloexec(kernel: Kernel, pty: Pty, fds) -> None:
    pty.unlock()
    flags = kernel.O_RDWR | kernel.O_NOCTTY | kernel.O_CLOEXEC
    slave = fds(kernel.ioctl(pty.master, kernel.TIOCGPTPEER, flags))
    assert kernel.fcntl(slave, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


@pytest.mark.min_kernel("4.13")
def test_tiocgptpeer_on_a_slave_is_eio(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    assert kernel.ioctl(slave, kernel.TIOCGPTPEER, kernel.O_RDWR).errno == "EIO"


def test_tiocgptn_on_a_slave_is_enotty(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    assert kernel.ioctl(slave, kernel.TIOCGPTN, kernel.new("unsigned int *")).errno == "ENOTTY"


def test_each_master_gets_its_own_slave_number(kernel: Kernel, pty: Pty, fds) -> None:
    other = Pty(kernel, fds)
    assert other.path != pty.path


def test_slave_after_the_master_closes_is_hung_up(kernel: Kernel, pty: Pty, fds) -> None:
    # O_NONBLOCK changes no answer here (a hung-up tty reads end of file at once), but a
    # kernel that failed to hang it up answers EAGAIN instead of blocking the test.
    slave = pty.slave(kernel.O_NONBLOCK)
    fds.close(pty.master)  # pty_close hangs the slave up: end of file, writes EIO
    assert kernel.read(slave, kernel.buf(8), 8).value == 0
    assert kernel.write(slave, b"x", 1).errno == "EIO"


def test_master_read_after_the_slave_closes_is_eio(kernel: Kernel, pty: Pty, fds) -> None:
    slave = pty.slave()
    fds.close(slave)
    with kernel.unobserved():  # EIO comes before EAGAIN: a kernel that forgot it does
        kernel.fcntl(pty.master, kernel.F_SETFL, kernel.O_NONBLOCK).unwrap()  # not block
    assert kernel.read(pty.master, kernel.buf(8), 8).errno == "EIO"


def test_unknown_request_on_a_pty_is_enotty(kernel: Kernel, pty: Pty) -> None:
    assert kernel.ioctl(pty.master, 0x54FF, 0).errno == "ENOTTY"


# --- termios ----------------------------------------------------------------------------


def test_tcgets_of_a_new_pty_is_canonical_with_echo(kernel: Kernel, pty: Pty, observe) -> None:
    t = _termios(kernel, pty.slave())
    observe("c_lflag", hex(t.c_lflag))
    for flag in ("ICANON", "ECHO", "ISIG", "IEXTEN"):
        assert t.c_lflag & getattr(kernel, flag), flag
    assert t.c_oflag & kernel.OPOST and t.c_oflag & kernel.ONLCR
    assert t.c_iflag & kernel.ICRNL
    assert t.c_cc[kernel.VINTR] == 3 and t.c_cc[kernel.VEOF] == 4  # ^C, ^D


def test_tcsets_flag_change_reads_back_through_tcgets(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    t = _termios(kernel, slave)
    t.c_lflag &= ~kernel.ECHO
    kernel.ioctl(slave, kernel.TCSETS, t).unwrap()
    assert not _termios(kernel, slave).c_lflag & kernel.ECHO


def test_termios_set_on_the_slave_is_seen_through_the_master(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    pty.set_lflag(slave, off=kernel.ICANON)
    assert not _termios(kernel, pty.master).c_lflag & kernel.ICANON


@pytest.mark.parametrize("command", ["TCSETSW", "TCSETSF"])
def test_tcsetsw_and_tcsetsf_also_apply_the_termios(kernel: Kernel, pty: Pty, command) -> None:
    slave = pty.slave()
    t = _termios(kernel, slave)
    t.c_cc[kernel.VMIN] = 5
    kernel.ioctl(slave, getattr(kernel, command), t).unwrap()
    assert _termios(kernel, slave).c_cc[kernel.VMIN] == 5


def test_tcgets_into_an_unmapped_buffer_is_efault(kernel: Kernel, pty: Pty) -> None:
    assert kernel.ioctl(pty.slave(), kernel.TCGETS, 8).errno == "EFAULT"


def test_tcgets_on_a_regular_file_is_enotty(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f", b"")
    assert kernel.ioctl(fd, kernel.TCGETS, kernel.new("struct termios *")).errno == "ENOTTY"


def test_tcgets_on_a_pipe_is_enotty(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.ioctl(rfd, kernel.TCGETS, kernel.new("struct termios *")).errno == "ENOTTY"


# --- what canonical and raw mode make read() return ---------------------------------------


def test_canonical_read_waits_for_the_end_of_the_line(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave(kernel.O_NONBLOCK)
    kernel.write(pty.master, b"abc", 3).unwrap()
    early = kernel.read(slave, kernel.buf(8), 8)
    kernel.write(pty.master, b"\n", 1).unwrap()
    assert early.errno == "EAGAIN"
    assert _read_ready(kernel, slave, 4) == b"abc\n"


def test_raw_read_returns_bytes_without_a_newline(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    pty.set_lflag(slave, off=kernel.ICANON | kernel.ECHO)
    kernel.write(pty.master, b"abc", 3).unwrap()
    assert _read_ready(kernel, slave, 3) == b"abc"


def test_canonical_mode_turns_carriage_return_into_newline(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    kernel.write(pty.master, b"a\r", 2).unwrap()
    assert _read_ready(kernel, slave, 2) == b"a\n"


def test_canonical_eof_character_ends_the_read_without_itself(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    kernel.write(pty.master, b"ab\x04", 3).unwrap()
    assert _read_ready(kernel, slave, 2) == b"ab"


def test_canonical_erase_character_removes_the_last_byte(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    kernel.write(pty.master, b"abx\x7fc\n", 6).unwrap()  # VERASE is DEL by default
    assert _read_ready(kernel, slave, 4) == b"abc\n"


def test_echo_sends_input_back_to_the_master(kernel: Kernel, pty: Pty) -> None:
    pty.slave()
    kernel.write(pty.master, b"hi\n", 3).unwrap()
    assert _read_ready(kernel, pty.master, 4) == b"hi\r\n"  # echoed through ONLCR


def test_without_echo_nothing_comes_back_to_the_master(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    pty.set_lflag(slave, off=kernel.ECHO)
    kernel.write(pty.master, b"hi\n", 3).unwrap()
    _read_ready(kernel, slave, 3)  # the line has been processed
    assert _ready(kernel, pty.master, 0) & kernel.POLLIN == 0


def test_onlcr_turns_slave_newlines_into_crlf(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    kernel.write(slave, b"a\n", 2).unwrap()
    assert _read_ready(kernel, pty.master, 3) == b"a\r\n"


def test_without_opost_output_is_passed_unchanged(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    t = _termios(kernel, slave)
    t.c_oflag &= ~kernel.OPOST
    kernel.ioctl(slave, kernel.TCSETS, t).unwrap()
    kernel.write(slave, b"a\n", 2).unwrap()
    assert _read_ready(kernel, pty.master, 2) == b"a\n"


# --- window size ----------------------------------------------------------------------------


def test_tiocgwinsz_of_a_new_pty_is_zero(kernel: Kernel, pty: Pty) -> None:
    ws = kernel.new("struct winsize *", (9, 9, 9, 9))
    kernel.ioctl(pty.slave(), kernel.TIOCGWINSZ, ws).unwrap()
    assert (ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel) == (0, 0, 0, 0)


def test_tiocswinsz_on_the_master_reads_back_on_the_slave(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    kernel.ioctl(pty.master, kernel.TIOCSWINSZ, kernel.new("struct winsize *", (24, 80, 640, 480)))
    ws = kernel.new("struct winsize *")
    kernel.ioctl(slave, kernel.TIOCGWINSZ, ws).unwrap()
    assert (ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel) == (24, 80, 640, 480)


def test_tiocgwinsz_on_a_regular_file_is_enotty(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.ioctl(fd, kernel.TIOCGWINSZ, kernel.new("struct winsize *")).errno == "ENOTTY"


# --- queued bytes, flushing, packet mode ----------------------------------------------------


def test_fionread_on_a_raw_slave_counts_the_bytes_that_arrived(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    pty.set_lflag(slave, off=kernel.ICANON | kernel.ECHO)
    kernel.write(pty.master, b"12345", 5).unwrap()
    _ready(kernel, slave)
    n = _int(kernel)
    kernel.ioctl(slave, kernel.FIONREAD, n).unwrap()
    assert n[0] == 5


def test_fionread_in_canonical_mode_counts_only_complete_lines(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    pty.set_lflag(slave, off=kernel.ECHO)
    kernel.write(pty.master, b"ab\ncd", 5).unwrap()
    _ready(kernel, slave)
    n = _int(kernel)
    kernel.ioctl(slave, kernel.FIONREAD, n).unwrap()
    assert n[0] == 3


def test_tcflsh_tciflush_discards_pending_input(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave(kernel.O_NONBLOCK)
    pty.set_lflag(slave, off=kernel.ICANON | kernel.ECHO)
    kernel.write(pty.master, b"junk", 4).unwrap()
    _ready(kernel, slave)
    kernel.ioctl(slave, kernel.TCFLSH, kernel.TCIFLUSH).unwrap()
    assert kernel.read(slave, kernel.buf(8), 8).errno == "EAGAIN"


def test_tcflsh_unknown_queue_is_einval(kernel: Kernel, pty: Pty) -> None:
    assert kernel.ioctl(pty.slave(), kernel.TCFLSH, 7).errno == "EINVAL"


def test_tiocpkt_prefixes_master_reads_with_a_status_byte(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    kernel.ioctl(pty.master, kernel.TIOCPKT, _int(kernel, 1)).unwrap()
    mode = _int(kernel)
    kernel.ioctl(pty.master, kernel.TIOCGPKT, mode).unwrap()
    kernel.write(slave, b"x", 1).unwrap()
    assert mode[0] == 1
    assert _read_ready(kernel, pty.master, 2) == bytes([kernel.TIOCPKT_DATA]) + b"x"


def test_tiocexcl_is_read_back_by_tiocgexcl(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    kernel.ioctl(slave, kernel.TIOCEXCL, 0).unwrap()
    excl = _int(kernel)
    kernel.ioctl(slave, kernel.TIOCGEXCL, excl).unwrap()
    assert excl[0] == 1
    kernel.ioctl(slave, kernel.TIOCNXCL, 0).unwrap()
    kernel.ioctl(slave, kernel.TIOCGEXCL, excl).unwrap()
    assert excl[0] == 0


@pytest.mark.as_user("CAP_SYS_ADMIN opens an exclusive tty anyway")
def test_exclusive_slave_refuses_another_open_with_ebusy(kernel: Kernel, pty: Pty) -> None:
    slave = pty.slave()
    kernel.ioctl(slave, kernel.TIOCEXCL, 0).unwrap()
    assert pty.open_slave().errno == "EBUSY"


# --- controlling terminal (in a grandchild: in_child's child leads a process group,
# and setsid refuses group leaders) ----------------------------------------------------


def _in_own_session(kernel: Kernel, pty: Pty, body: Callable[[int], int]) -> Callable[[], int]:
    """A function for in_child: fork, and in the grandchild setsid, open the slave and
    run body(slave); its exit code."""
    pty.unlock()

    def grandchild() -> int:
        kernel.setsid().unwrap()
        return body(pty.open_slave().unwrap())

    return lambda: forking.exit_code(kernel, forking.fork(kernel, grandchild))


def test_tiocgsid_of_a_tty_that_is_not_ours_is_enotty(kernel: Kernel, pty: Pty) -> None:
    assert kernel.ioctl(pty.slave(), kernel.TIOCGSID, _int(kernel)).errno == "ENOTTY"


def test_tiocsctty_makes_the_slave_our_controlling_tty(kernel: Kernel, pty: Pty, in_child) -> None:
    def body(slave: int) -> int:
        kernel.ioctl(slave, kernel.TIOCSCTTY, 0).unwrap()
        sid, pgrp = _int(kernel), _int(kernel)
        kernel.ioctl(slave, kernel.TIOCGSID, sid).unwrap()
        kernel.ioctl(slave, kernel.TIOCGPGRP, pgrp).unwrap()
        pid = kernel.getpid().unwrap()
        return 0 if (sid[0], pgrp[0]) == (pid, pid) else 3

    assert in_child(_in_own_session(kernel, pty, body)) == 0


def test_tiocnotty_gives_up_the_controlling_tty(kernel: Kernel, pty: Pty, in_child) -> None:
    def body(slave: int) -> int:
        kernel.ioctl(slave, kernel.TIOCSCTTY, 0).unwrap()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a leader's TIOCNOTTY sends it
        kernel.ioctl(slave, kernel.TIOCNOTTY, 0).unwrap()
        return 0 if kernel.ioctl(slave, kernel.TIOCGSID, _int(kernel)).errno == "ENOTTY" else 3

    assert in_child(_in_own_session(kernel, pty, body)) == 0


def test_tiocsctty_of_a_second_tty_while_one_is_held_is_eperm(
    kernel: Kernel, pty: Pty, fds, in_child
) -> None:
    other = Pty(kernel, fds)
    other.unlock()

    def body(slave: int) -> int:
        kernel.ioctl(slave, kernel.TIOCSCTTY, 0).unwrap()
        second = other.open_slave().unwrap()
        return 0 if kernel.ioctl(second, kernel.TIOCSCTTY, 0).errno == "EPERM" else 3

    assert in_child(_in_own_session(kernel, pty, body)) == 0


# --- TIOCSTI: typing into a terminal -------------------------------------------------------


def _tiocsti_answer() -> str:
    """What a user's TIOCSTI of a tty not their controlling one answers: EPERM
    (drivers/tty/tty_io.c tiocsti: the caller's controlling tty, else CAP_SYS_ADMIN),
    or, where dev.tty.legacy_tiocsti (Linux 6.2) is 0, EIO before that."""
    if not (sysctl.ROOT / "dev/tty/legacy_tiocsti").exists():  # older: no such switch
        return "EPERM"
    return "EPERM" if sysctl.number("dev/tty/legacy_tiocsti") else "EIO"


@pytest.mark.as_user("root may type into any terminal (CAP_SYS_ADMIN)")
def test_tiocsti_into_a_tty_that_is_not_the_controlling_one_is_refused(
    kernel: Kernel, pty: Pty
) -> None:
    slave = pty.slave()  # O_NOCTTY: not this process's controlling terminal
    assert kernel.ioctl(slave, kernel.TIOCSTI, kernel.new("char *", b"x")).errno == (
        _tiocsti_answer()
    )
    n = _int(kernel)
    kernel.ioctl(slave, kernel.FIONREAD, n).unwrap()
    assert n[0] == 0  # nothing typed


# --- vhangup(2): hang up the caller's controlling terminal (CAP_SYS_TTY_CONFIG) -----------


@pytest.mark.as_user("root may hang up its tty (CAP_SYS_TTY_CONFIG)")
def test_vhangup_as_a_user_is_eperm(kernel: Kernel) -> None:
    assert kernel.vhangup().errno == "EPERM"


def test_vhangup_as_root_of_a_user_namespace_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> str:
        namespaces.user_namespace_or_skip(kernel)
        return kernel.vhangup().outcome

    assert in_child(run) == "EPERM"


@pytest.mark.root
def test_vhangup_without_a_controlling_tty_does_nothing_and_succeeds(
    kernel: Kernel, in_child
) -> None:
    def grandchild() -> int:
        kernel.setsid().unwrap()
        return 0 if kernel.vhangup().ok else 3

    assert in_child(lambda: forking.exit_code(kernel, forking.fork(kernel, grandchild))) == 0


@pytest.mark.root
def test_vhangup_hangs_up_the_controlling_tty(kernel: Kernel, pty: Pty, in_child) -> None:
    def body(slave: int) -> int:
        kernel.ioctl(slave, kernel.TIOCSCTTY, 0).unwrap()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        kernel.vhangup().unwrap()
        eof = kernel.read(slave, kernel.buf(8), 8).value == 0
        eio = kernel.write(slave, b"x", 1).errno == "EIO"
        return 0 if eof and eio else 3

    assert in_child(_in_own_session(kernel, pty, body)) == 0
