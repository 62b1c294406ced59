"""ioctl(2) requests every file takes (fs/ioctl.c do_vfs_ioctl; NetBSD's
sys/kern/sys_generic.c sys_ioctl): FIOCLEX/FIONCLEX (seen through fcntl F_GETFD),
FIONBIO (F_GETFL), FIONREAD on files, pipes and sockets, Linux's FIOQSIZE; and the
errors: a request the file does not know is ENOTTY, a closed or O_PATH descriptor
EBADF. The tty requests are in test_ioctl_tty.py.
"""

from pathlib import Path

import pytest

from syscalls.expect import ByOS
from syscalls.kernel import Kernel

# FIONREAD on a datagram socket holding "one" and "second": Linux counts the next
# message (net/unix/af_unix.c, unix_ioctl SIOCINQ: the first skb); NetBSD every byte
# queued, each datagram's sender address with it (sys/kern/sys_socket.c, soo_ioctl:
# so_rcv.sb_cc; an unbound sender's address is 2 bytes, sys/kern/uipc_usrreq.c
# sun_noname): 3 + 2 + 6 + 2.
DATAGRAM_FIONREAD = ByOS(default=3, netbsd=13)


def _int(kernel: Kernel, value: int = 0):
    return kernel.new("int *", value)


def _fionread(kernel: Kernel, fd: int) -> int:
    n = _int(kernel, -1)
    kernel.ioctl(fd, kernel.FIONREAD, n).unwrap()
    return n[0]


def test_fioclex_sets_close_on_exec(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    kernel.ioctl(fd, kernel.FIOCLEX, 0).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC


def test_fionclex_clears_close_on_exec(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.open(tmp / "f", kernel.O_CREAT | kernel.O_RDWR | kernel.O_CLOEXEC)
    kernel.ioctl(fd, kernel.FIONCLEX, 0).unwrap()
    assert kernel.fcntl(fd, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0


def test_fioclex_touches_only_its_own_descriptor(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    dup = fds(kernel.dup(fd))
    kernel.ioctl(fd, kernel.FIOCLEX, 0).unwrap()
    assert kernel.fcntl(dup, kernel.F_GETFD, 0).unwrap() & kernel.FD_CLOEXEC == 0


def test_fionbio_on_sets_o_nonblock(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    kernel.ioctl(rfd, kernel.FIONBIO, _int(kernel, 1)).unwrap()
    assert kernel.fcntl(rfd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK
    assert kernel.read(rfd, kernel.buf(1), 1).errno == "EAGAIN"


def test_fionbio_off_clears_o_nonblock(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe(kernel.O_NONBLOCK)
    kernel.ioctl(rfd, kernel.FIONBIO, _int(kernel, 0)).unwrap()
    assert kernel.fcntl(rfd, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK == 0


def test_fionbio_is_shared_by_duplicated_descriptors(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    dup = fds(kernel.dup(rfd))
    kernel.ioctl(rfd, kernel.FIONBIO, _int(kernel, 1)).unwrap()
    assert kernel.fcntl(dup, kernel.F_GETFL, 0).unwrap() & kernel.O_NONBLOCK


@pytest.mark.os("linux")
def test_fionbio_with_an_unmapped_argument_is_efault(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.ioctl(rfd, kernel.FIONBIO, 8).errno == "EFAULT"


def test_fionread_on_a_pipe_counts_buffered_bytes(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    empty = _fionread(kernel, rfd)
    kernel.write(wfd, b"hello", 5).unwrap()
    assert (empty, _fionread(kernel, rfd)) == (0, 5)


def test_fionread_on_a_pipe_drops_what_was_read(kernel: Kernel, fds) -> None:
    rfd, wfd = fds.pipe()
    kernel.write(wfd, b"hello", 5).unwrap()
    kernel.read(rfd, kernel.buf(2), 2).unwrap()
    assert _fionread(kernel, rfd) == 3


def test_fionread_on_a_pipe_counts_every_buffer(kernel: Kernel, fds) -> None:
    """A pipe keeps its data in page-sized buffers (Linux: small writes merge into one):
    10,000 bytes fill three of 4 KiB, and FIONREAD counts them all."""
    rfd, wfd = fds.pipe()
    data = bytes(10_000)
    assert kernel.write(wfd, data, len(data)).unwrap() == len(data)
    assert _fionread(kernel, rfd) == len(data)


def test_fionread_on_a_stream_socket_counts_received_bytes(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair()
    kernel.write(a, b"abcdef", 6).unwrap()
    assert _fionread(kernel, b) == 6


def test_fionread_on_a_datagram_socket_counts_the_next_message(kernel: Kernel, fds) -> None:
    a, b = fds.socketpair(kernel.SOCK_DGRAM)
    kernel.write(a, b"one", 3).unwrap()
    kernel.write(a, b"second", 6).unwrap()
    assert _fionread(kernel, b) == DATAGRAM_FIONREAD[kernel.platform.os]


def test_fionread_on_a_regular_file_is_what_remains_past_the_offset(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"0123456789")
    kernel.lseek(fd, 4, kernel.SEEK_SET).unwrap()
    assert _fionread(kernel, fd) == 6


@pytest.mark.os("linux")
def test_fioqsize_on_a_regular_file_is_the_bytes_of_its_blocks(
    kernel: Kernel, tmp: Path, fds
) -> None:
    fd = fds.file(tmp / "f", b"x" * 5000)
    kernel.fsync(fd).unwrap()  # delayed allocation (ext4) has allocated the blocks
    size = kernel.new("int64_t *", -1)
    kernel.ioctl(fd, kernel.FIOQSIZE, size).unwrap()
    st = kernel.new("struct stat *")
    kernel.fstat(fd, st).unwrap()
    assert size[0] == st.st_blocks * 512 >= 5000  # inode_get_bytes


@pytest.mark.os("linux")
def test_fioqsize_on_a_pipe_is_enotty(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.ioctl(rfd, kernel.FIOQSIZE, kernel.new("int64_t *")).errno == "ENOTTY"


def test_unknown_request_on_a_regular_file_is_enotty(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    assert kernel.ioctl(fd, 0x5A5A, 0).errno == "ENOTTY"


def test_unknown_request_on_a_pipe_is_enotty(kernel: Kernel, fds) -> None:
    rfd, _ = fds.pipe()
    assert kernel.ioctl(rfd, 0x5A5A, 0).errno == "ENOTTY"


@pytest.mark.os("linux")
def test_tty_request_on_dev_null_is_enotty(kernel: Kernel, fds) -> None:
    fd = fds.open("/dev/null", kernel.O_RDWR)
    assert kernel.ioctl(fd, kernel.TCGETS, kernel.new("struct termios *")).errno == "ENOTTY"


def test_ioctl_on_a_closed_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    fd = fds.file(tmp / "f")
    fds.close(fd)
    assert kernel.ioctl(fd, kernel.FIOCLEX, 0).errno == "EBADF"


@pytest.mark.os("linux")
def test_ioctl_on_an_o_path_descriptor_is_ebadf(kernel: Kernel, tmp: Path, fds) -> None:
    (tmp / "f").write_bytes(b"")
    fd = fds.open(tmp / "f", kernel.O_PATH)
    assert kernel.ioctl(fd, kernel.FIOCLEX, 0).errno == "EBADF"


def test_ioctl_on_a_negative_descriptor_is_ebadf(kernel: Kernel) -> None:
    assert kernel.ioctl(-1, kernel.FIONREAD, _int(kernel)).errno == "EBADF"


# Asking where a file's blocks are is CAP_SYS_RAWIO's (fs/ioctl.c ioctl_fibmap), before
# the file system is asked; setting the append-only or immutable flag is
# CAP_LINUX_IMMUTABLE's (fs/ioctl.c fileattr_set_prepare), even on an own file.
FIBMAP = 1  # _IO(0x00, 1), linux/fs.h


@pytest.mark.os("linux")
@pytest.mark.as_user("root may map a file's blocks (CAP_SYS_RAWIO)")
def test_fibmap_as_a_user_is_eperm(kernel: Kernel, disk_tmp: Path, fds) -> None:
    fd = fds.file(disk_tmp / "f", b"x" * 4096, kernel.O_RDONLY)
    assert kernel.ioctl(fd, FIBMAP, kernel.new("int *", 0)).errno == "EPERM"


def _inode_flags(kernel: Kernel, tmp: Path, fds) -> tuple[int, int, int, object]:
    """A new file's descriptor, FS_IOC_GETFLAGS and FS_IOC_SETFLAGS, and its flags as
    read; skips where the file system keeps none."""
    fd = fds.file(tmp / "f", b"", kernel.O_RDONLY)
    size = kernel.ffi.sizeof("long") << 16
    getflags = (2 << 30) | size | (ord("f") << 8) | 1  # _IOR('f', 1, long)
    setflags = (1 << 30) | size | (ord("f") << 8) | 2  # _IOW('f', 2, long)
    flags = kernel.new("int *")
    r = kernel.ioctl(fd, getflags, flags)
    if r.errno in ("ENOTTY", "EOPNOTSUPP"):
        pytest.skip(f"the file system under {tmp} keeps no inode flags ({r.errno})")
    r.unwrap()
    return fd, getflags, setflags, flags


@pytest.mark.os("linux")
@pytest.mark.as_user("root may set append-only and immutable (CAP_LINUX_IMMUTABLE)")
@pytest.mark.parametrize("flag", [0x20, 0x10], ids=["append", "immutable"])
def test_fs_ioc_setflags_append_or_immutable_on_an_own_file_as_a_user_is_eperm(
    kernel: Kernel, tmp: Path, fds, flag: int
) -> None:
    fd, getflags, setflags, flags = _inode_flags(kernel, tmp, fds)
    before = flags[0]
    assert kernel.ioctl(fd, setflags, kernel.new("int *", before | flag)).errno == "EPERM"
    kernel.ioctl(fd, getflags, flags).unwrap()
    assert flags[0] == before


# Changing the inode flags of another user's file, even to what they are, is its
# owner's (fs/ioctl.c vfs_fileattr_set: inode_owner_or_capable, CAP_FOWNER). Root makes
# the file and opens it; a child become nobody asks through that descriptor.
@pytest.mark.os("linux")
@pytest.mark.root
def test_fs_ioc_setflags_on_a_file_of_another_user_is_eperm(
    kernel: Kernel, tmp: Path, fds, in_child, drop_privileges
) -> None:
    fd, _, setflags, flags = _inode_flags(kernel, tmp, fds)

    def run() -> str:
        drop_privileges()
        return kernel.ioctl(fd, setflags, flags).outcome

    assert in_child(run) == "EPERM"
