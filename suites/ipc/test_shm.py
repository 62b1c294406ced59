"""System V shared memory: shmget/shmat/shmdt/shmctl with IPC_PRIVATE segments, which
the `sysv` fixture removes whatever the test did.

IPC_STAT fills struct shmid64_ds (platforms/linux/x86_64.h) on Linux.
"""

import os
import resource
import signal
import time

import pytest

from syscalls import namespaces
from syscalls.abi import compat_process
from syscalls.kernel import Kernel, Result

pytestmark = pytest.mark.os("linux")
INT_MAX = (1 << 31) - 1


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


def _proc(name: str) -> int:
    with open(f"/proc/sys/kernel/{name}") as f:
        return int(f.read())


def _shm_info(kernel: Kernel, cmd: int, struct: str) -> tuple[int, object]:
    info = kernel.new(f"struct {struct} *")
    return kernel.shmctl(0, cmd, info).unwrap(), info


def test_shmctl_shm_info_counts_the_segments_pages_and_resident_pages(
    kernel: Kernel, in_child
) -> None:
    page = os.sysconf("SC_PAGE_SIZE")

    def run() -> tuple[int, tuple[int, int, int]]:
        namespaces.own_ipc_namespace(kernel)  # the counts are of this namespace's alone
        touched = kernel.shmget(kernel.IPC_PRIVATE, 3 * page, kernel.IPC_CREAT | 0o600).unwrap()
        kernel.shmget(kernel.IPC_PRIVATE, page + 1, kernel.IPC_CREAT | 0o600).unwrap()
        addr = kernel.shmat(touched, None, 0).unwrap()
        mem = _mem(kernel, addr, 3 * page)
        mem[0], mem[2 * page] = b"a", b"c"  # two of its three pages
        top, info = _shm_info(kernel, kernel.SHM_INFO, "shm_info")
        kernel.shmdt(addr).unwrap()
        return top, (info.used_ids, info.shm_tot, info.shm_rss)

    top, usage = in_child(run)
    assert top == 1  # the highest index in use: two segments, 0 and 1
    assert usage[:2] == (2, 5)  # segments; pages (3, and 2 for page + 1 bytes)
    if _shmem_huge() not in ("always", "force"):  # else the first touch may take 512
        assert usage[2] == 2  # resident: the two pages written


def _shmem_huge() -> str:
    """The transparent huge page setting for shared memory, "[never]" shown as never."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/shmem_enabled") as f:
            text = f.read()
    except OSError:
        return "never"
    return text.split("[", 1)[1].split("]", 1)[0] if "[" in text else text.strip()


def test_shmctl_ipc_info_reports_this_namespaces_limits(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, list[int], list[int]]:
        namespaces.own_ipc_namespace(kernel)
        top, info = _shm_info(kernel, kernel.IPC_INFO, "shminfo64")
        limits = [_proc("shmmax"), _proc("shmall"), _proc("shmmni"), _proc("shmmni"), 1]
        if compat_process():  # ipc/shm.c copy_compat_shminfo_to_user: shmmax capped at
            limits[:2] = [min(limits[0], INT_MAX), limits[1] & 0xFFFFFFFF]  # INT_MAX, 32 bits
        return top, limits, [info.shmmax, info.shmall, info.shmmni, info.shmseg, info.shmmin]

    top, limits, reported = in_child(run)
    assert top == 0  # no segment: 0, as for one at index 0
    assert reported == limits  # shmseg is shmmni on Linux; shmmin is SHMMIN, 1


@pytest.mark.parametrize(
    "cmd", ["SHM_STAT", pytest.param("SHM_STAT_ANY", marks=pytest.mark.min_kernel("4.17"))]
)
def test_shmctl_shm_stat_takes_an_index_and_answers_the_segments_id(
    kernel: Kernel, in_child, stat_by_index, cmd: str
) -> None:
    def run() -> tuple[dict[int, int], dict[int, int], str]:
        namespaces.own_ipc_namespace(kernel)
        made = {kernel.shmget(kernel.IPC_PRIVATE, n, kernel.IPC_CREAT | 0o600).unwrap(): n
                for n in (4096, 10000)}  # fmt: skip
        top, _ = _shm_info(kernel, kernel.SHM_INFO, "shm_info")
        ds = kernel.new("struct shmid64_ds *")

        def stat(index: int) -> Result:
            return kernel.shmctl(index, getattr(kernel, cmd), ds)

        return made, *stat_by_index(stat, top, lambda: ds.shm_segsz)

    made, found, past_the_top = in_child(run)
    assert found == made  # each segment's id, with its own size
    assert past_the_top == "EINVAL"


SHM_LOCKED = 0o2000  # include/uapi/linux/shm.h: the segment's pages are locked in memory


def test_shmctl_shm_lock_marks_the_segment_locked_and_shm_unlock_clears_it(
    kernel: Kernel, sysv
) -> None:
    shmid = sysv.shm(4096)
    r = kernel.shmctl(shmid, kernel.SHM_LOCK, None)
    if r.errno in ("EPERM", "ENOMEM") and os.geteuid() != 0:
        pytest.skip(f"SHM_LOCK: {r.errno} for this user (RLIMIT_MEMLOCK too small)")
    r.unwrap()
    locked = _stat(kernel, shmid).shm_perm.mode
    kernel.shmctl(shmid, kernel.SHM_UNLOCK, None).unwrap()
    assert locked & SHM_LOCKED
    assert not _stat(kernel, shmid).shm_perm.mode & SHM_LOCKED


@pytest.mark.as_user("root may lock memory whatever its limit (CAP_IPC_LOCK)")
def test_shmctl_shm_lock_with_rlimit_memlock_zero_is_eperm(kernel: Kernel, in_child) -> None:
    def run() -> tuple[str, int]:
        # The user's own segment, made and removed here: a root run's body is nobody's.
        shmid = kernel.shmget(kernel.IPC_PRIVATE, 4096, kernel.IPC_CREAT | 0o600).unwrap()
        try:
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
            outcome = kernel.shmctl(shmid, kernel.SHM_LOCK, None).outcome
            return outcome, _stat(kernel, shmid).shm_perm.mode
        finally:
            kernel.shmctl(shmid, kernel.IPC_RMID, None)

    outcome, mode = in_child(run)
    assert outcome == "EPERM"
    assert not mode & SHM_LOCKED


# As for queues (ipc/util.c ipcctl_obtain_check; ipcperms); SHM_LOCK and SHM_UNLOCK
# want the owner, or CAP_IPC_LOCK (ipc/shm.c shmctl_do_lock). The segment is root's (a
# fixture's).
@pytest.mark.as_user("root may change, lock or remove any segment (CAP_SYS_ADMIN)")
@pytest.mark.parametrize("cmd", ["IPC_SET", "IPC_RMID", "SHM_LOCK", "SHM_UNLOCK"])
@pytest.mark.parametrize("anothers", [("shm", 0o666)], indirect=True, ids=["666"])
def test_shmctl_of_another_users_segment_is_eperm(kernel: Kernel, anothers, cmd: str) -> None:
    _, shmid = anothers
    ds = _stat(kernel, shmid)
    assert kernel.shmctl(shmid, getattr(kernel, cmd), ds).errno == "EPERM"
    assert _stat(kernel, shmid).shm_perm.mode & 0o3777 == 0o666  # there, and not locked


@pytest.mark.as_user("root may use any segment (CAP_IPC_OWNER)")
@pytest.mark.parametrize("anothers", [("shm", 0o600)], indirect=True, ids=["600"])
def test_another_users_segment_without_permission_is_eacces_to_get_stat_and_attach(
    kernel: Kernel, anothers
) -> None:
    key, shmid = anothers
    assert kernel.shmget(key, 0, 0).unwrap() == shmid  # asking for no access: granted
    assert kernel.shmget(key, 0, 0o400).errno == "EACCES"
    assert kernel.shmget(key, 0, 0o200).errno == "EACCES"
    ds = kernel.new("struct shmid64_ds *")
    assert kernel.shmctl(shmid, kernel.IPC_STAT, ds).errno == "EACCES"
    assert kernel.shmat(shmid, None, kernel.SHM_RDONLY).errno == "EACCES"


def test_shmdt_records_the_detach_time(kernel: Kernel, sysv) -> None:
    shmid = sysv.shm(4096)
    assert _stat(kernel, shmid).shm_dtime == 0
    before = int(time.time())
    sysv.shmdt(sysv.shmat(shmid)).unwrap()
    dtime = _stat(kernel, shmid).shm_dtime
    # The kernel's seconds are the last tick's (ktime_get_real_seconds): a second may
    # have begun for time.time() and not yet for it (this failed once so, as nobody).
    assert before - 1 <= dtime <= time.time() + 1


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
