"""System V shared memory: shmget/shmat/shmdt/shmctl with IPC_PRIVATE segments, which
the `sysv` fixture removes whatever the test did.

IPC_STAT fills struct shmid64_ds (platforms/linux/x86_64.h) on Linux.
"""

import os
import signal
import time

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _stat(kernel: Kernel, shmid: int):
    ds = kernel.new("struct shmid64_ds *")
    kernel.shmctl(shmid, kernel.IPC_STAT, ds).unwrap()
    return ds


def _mem(kernel: Kernel, addr: int, n: int):
    return kernel.ffi.buffer(kernel.ffi.cast("char *", addr), n)


def test_shmget_private_segment_reports_size_mode_and_creator(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(10000, 0o640)
    ds = _stat(kernel, shmid)
    assert ds.shm_segsz == 10000
    assert ds.shm_perm.mode & 0o777 == 0o640
    assert ds.shm_cpid == os.getpid()
    assert (ds.shm_perm.uid, ds.shm_perm.cuid) == (os.geteuid(), os.geteuid())
    assert ds.shm_nattch == 0


def test_shmat_two_attachments_share_memory(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    a, b = sysv.shmat(shmid), sysv.shmat(shmid)
    assert a != b
    _mem(kernel, a, 5)[:] = b"hello"
    assert _mem(kernel, b, 5)[:] == b"hello"


def test_shmat_new_segment_is_zero_filled(kernel: Kernel, sysv) -> None:
    addr = sysv.shmat(sysv.shm(8192))
    assert _mem(kernel, addr, 8192)[:] == bytes(8192)


def test_shm_nattch_counts_attachments(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    a = sysv.shmat(shmid)
    b = sysv.shmat(shmid)
    assert _stat(kernel, shmid).shm_nattch == 2
    sysv.shmdt(a).unwrap()
    assert _stat(kernel, shmid).shm_nattch == 1
    sysv.shmdt(b).unwrap()
    assert _stat(kernel, shmid).shm_nattch == 0


def test_shm_attachment_is_shared_with_forked_child(kernel: Kernel, sysv, in_child) -> None:
    addr = sysv.shmat(sysv.shm(4096))
    in_child(lambda: _mem(kernel, addr, 5).__setitem__(slice(0, 5), b"child"))
    assert _mem(kernel, addr, 5)[:] == b"child"


def test_shmat_readonly_write_is_sigsegv(kernel: Kernel, sysv, in_child) -> None:
    addr = sysv.shmat(sysv.shm(4096), kernel.SHM_RDONLY)
    assert _mem(kernel, addr, 1)[:] == b"\0"

    def write() -> int:
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        _mem(kernel, addr, 1)[:] = b"x"
        return 0

    with pytest.raises(AssertionError, match="SIGSEGV"):
        in_child(write)


def test_shmctl_rmid_keeps_attached_memory_usable(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    addr = sysv.shmat(shmid)
    sysv.remove("shmctl", shmid).unwrap()
    _mem(kernel, addr, 4)[:] = b"live"
    assert _mem(kernel, addr, 4)[:] == b"live"
    sysv.shmdt(addr).unwrap()


def test_shmctl_after_rmid_without_attachments_is_einval(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    sysv.remove("shmctl", shmid).unwrap()
    ds = kernel.new("struct shmid64_ds *")
    assert kernel.shmctl(shmid, kernel.IPC_STAT, ds).errno == "EINVAL"


def test_shmget_zero_size_new_segment_is_einval(kernel: Kernel) -> None:
    r = kernel.shmget(kernel.IPC_PRIVATE, 0, kernel.IPC_CREAT | 0o600)
    assert r.errno == "EINVAL"


def test_shmget_excl_on_existing_key_is_eexist(kernel: Kernel, sysv) -> None:
    key = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF or 1
    shmid = kernel.shmget(key, 4096, kernel.IPC_CREAT | kernel.IPC_EXCL | 0o600).unwrap()
    sysv.ids.append(("shmctl", shmid))
    r = kernel.shmget(key, 4096, kernel.IPC_CREAT | kernel.IPC_EXCL | 0o600)
    assert r.errno == "EEXIST"
    assert kernel.shmget(key, 4096, 0).unwrap() == shmid


def test_shmget_missing_key_without_creat_is_enoent(kernel: Kernel) -> None:
    key = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF or 1
    assert kernel.shmget(key, 4096, 0).errno == "ENOENT"


def test_shmdt_of_unattached_address_is_einval(kernel: Kernel, sysv) -> None:
    buf = kernel.buf(4096)
    assert kernel.shmdt(buf).errno == "EINVAL"


def test_shmat_unknown_id_is_einval(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    sysv.remove("shmctl", shmid).unwrap()
    assert kernel.shmat(shmid, None, 0).errno == "EINVAL"


SHM_DEST = 0o1000  # include/uapi/linux/shm.h: removal pending until the last detach


def _free_address(kernel: Kernel, sysv, shmid: int) -> int:
    """An address the kernel itself chose for this segment, detached again."""
    addr = sysv.shmat(shmid)
    sysv.shmdt(addr).unwrap()
    return addr


def test_shmat_misaligned_address_is_einval(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    addr = _free_address(kernel, sysv, shmid)
    r = kernel.shmat(shmid, kernel.ffi.cast("void *", addr + 1), 0)
    if r.ok:
        sysv.attached.append(r.value)
    assert r.errno == "EINVAL"


def test_shmat_shm_rnd_rounds_the_address_down(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    addr = _free_address(kernel, sysv, shmid)
    r = kernel.shmat(shmid, kernel.ffi.cast("void *", addr + 1), kernel.SHM_RND)
    if r.ok:
        sysv.attached.append(r.value)
    assert r.unwrap() == addr


def test_shmat_records_the_attaching_pid(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    sysv.shmat(shmid)
    assert _stat(kernel, shmid).shm_lpid == os.getpid()


def test_shmctl_rmid_with_attachments_marks_the_segment_dest(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    addr = sysv.shmat(shmid)
    kernel.shmctl(shmid, kernel.IPC_RMID, None).unwrap()
    ds = _stat(kernel, shmid)
    mode, key = ds.shm_perm.mode, ds.shm_perm.key
    # The last detach destroys it: teardown must not remove an id that may be reused.
    sysv.shmdt(addr).unwrap()
    sysv.ids.remove(("shmctl", shmid))
    assert mode & SHM_DEST
    assert key == kernel.IPC_PRIVATE
    ds = kernel.new("struct shmid64_ds *")
    assert kernel.shmctl(shmid, kernel.IPC_STAT, ds).errno == "EINVAL"  # gone with it


def test_shmdt_records_the_detach_time(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    assert _stat(kernel, shmid).shm_dtime == 0
    before = int(time.time())
    sysv.shmdt(sysv.shmat(shmid)).unwrap()
    dtime = _stat(kernel, shmid).shm_dtime
    assert before <= dtime <= time.time()


def test_shmat_over_a_mapping_without_shm_remap_is_einval(kernel: Kernel, sysv) -> None:
    """The address is a private anonymous page of this process: shmat may take it only with
    SHM_REMAP, and refusing leaves the page as it was."""
    shmid = sysv.shm(4096)
    prot, flags = kernel.PROT_READ | kernel.PROT_WRITE, kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS
    addr = kernel.mmap(0, 4096, prot, flags, -1, 0).unwrap()
    try:
        _mem(kernel, addr, 4)[:] = b"mine"
        r = kernel.shmat(shmid, kernel.ffi.cast("void *", addr), 0)
        if r.ok:
            sysv.attached.append(r.value)
        assert (r.errno, _mem(kernel, addr, 4)[:]) == ("EINVAL", b"mine")
    finally:
        if addr not in sysv.attached:
            kernel.munmap(addr, 4096)


SHM_LOCKED = 0o2000  # include/uapi/linux/shm.h: the segment is locked in memory


def test_shmctl_shm_lock_shows_in_the_mode_until_shm_unlock(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    r = kernel.shmctl(shmid, kernel.SHM_LOCK, None)
    if r.errno in ("EPERM", "ENOMEM"):
        pytest.skip(f"SHM_LOCK refused ({r.errno}): no CAP_IPC_LOCK, RLIMIT_MEMLOCK too low")
    r.unwrap()
    locked = _stat(kernel, shmid).shm_perm.mode & SHM_LOCKED
    kernel.shmctl(shmid, kernel.SHM_UNLOCK, None).unwrap()
    assert (locked, _stat(kernel, shmid).shm_perm.mode & SHM_LOCKED) == (SHM_LOCKED, 0)


def test_shmctl_rmid_of_an_attached_segment_frees_its_key(kernel: Kernel, sysv) -> None:
    """The segment lives on until its last detach, but under IPC_PRIVATE: shmget of its old
    key finds nothing (and IPC_CREAT would make a new segment)."""
    key = 0x5C000000 | os.getpid()  # a key of this process's own, unlikely to be taken
    r = kernel.shmget(key, 4096, kernel.IPC_CREAT | kernel.IPC_EXCL | 0o600)
    if r.errno == "EEXIST":
        pytest.skip(f"key {key:#x} is taken by a segment this test did not make")
    shmid = r.unwrap()
    sysv.ids.append(("shmctl", shmid))
    addr = sysv.shmat(shmid)
    kernel.shmctl(shmid, kernel.IPC_RMID, None).unwrap()
    found = kernel.shmget(key, 4096, 0)
    # The last detach destroys it: teardown must not remove an id that may be reused.
    sysv.shmdt(addr).unwrap()
    sysv.ids.remove(("shmctl", shmid))
    assert found.errno == "ENOENT"
