"""The host's root is read-only for every target that shares it, as the HOST enforces it.

A guest kernel may be buggy, and runs its tests as root: a guest that remounts its root
read-write, or mounts the host root afresh, must still change nothing on the host. For
each target, a guest runs tests/escape_plugin.py, which tries every kind of change to a
directory of the host's made for the test (and a file at the top of the host root), and
the directory is then compared with what it was, entry by entry (content, mode, owner,
times, inode, links, extended attributes).

The first tests check the confinement itself (syscalls.targets.readonly) without a
guest: a program started through it, as root and as a user, changes nothing on the host
but its writable directories, and cannot lift the read-only flag. They run on any host;
the boots need the targets (UML 6.1 cannot run on CPUs with AVX-512 or AMX: it says so).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from syscalls.targets import readonly
from tests.target_checks import ROOT, cloud_kernel, need, need_uml, run_target

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp"]
# Somewhere every target shows at its host path: not under the tmpfs they mount on /tmp.
SHARED_BASE = "/var/tmp"


def snapshot(top: Path) -> dict[str, tuple[object, ...]]:
    """Everything a change could touch, for `top` and each entry below it."""
    found: dict[str, tuple[object, ...]] = {}
    for path in [top, *sorted(top.rglob("*"))]:
        st = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        xattrs = sorted(os.listxattr(path, follow_symlinks=False))
        found[str(path.relative_to(top))] = (
            st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
            st.st_ino, st.st_nlink, content, xattrs,
        )  # fmt: skip
    return found


@contextlib.contextmanager
def host_directory(owner: int = 0) -> Iterator[Path]:
    """A directory of the host's, shared into the targets, with a file and a directory
    to change; removed afterwards with anything a failed check let appear in it or at
    the top of the root."""
    d = Path(tempfile.mkdtemp(prefix="syscalls-escape-", dir=SHARED_BASE))
    at_root = Path("/") / f"{d.name}-at-root"
    try:
        d.chmod(0o755)
        (d / "existing").write_bytes(b"the host's data\n")
        (d / "keep").mkdir()
        for p in (d, d / "existing", d / "keep"):
            os.chown(p, owner, owner)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            at_root.unlink()


def check_unchanged(d: Path, before: dict[str, tuple[object, ...]], answers: object) -> None:
    assert snapshot(d) == before, f"the host directory changed; the guest saw {answers}"
    assert not (Path("/") / f"{d.name}-at-root").exists(), answers


# -- the confinement, without a guest ---------------------------------------------------

CONFINED = """
import ctypes, json, sys
from pathlib import Path
from tests.escape_plugin import changes
libc = ctypes.CDLL(None, use_errno=True)
# A bind remount changes this namespace's mount only (never the host's superblock).
remount = libc.mount(None, b"/", None, ctypes.c_ulong(32 | 4096), None)
out, scratch, where = map(Path, sys.argv[1:4])
(out / "written").write_text("results")
(scratch / "written").write_text("scratch")
print(json.dumps({"remount": remount, "changes": changes(Path("/"), where)}))
"""


# readonly.py as a kernel before 5.12 runs it: no mount_setattr, one remount per mount.
WITHOUT_MOUNT_SETATTR = """
import errno, sys
from syscalls.targets import readonly
def enosys(*args):
    raise readonly.SetupError("mount_setattr: ENOSYS", errno.ENOSYS)
readonly._mount_setattr = enosys
sys.exit(readonly.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("how", ["mount_setattr", "remount"])
@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_confined_program_writes_only_its_writable_directories(user: str, how: str) -> None:
    if user == "root" and os.geteuid() != 0:
        pytest.skip("needs root (the user case is the other parameter)")
    as_user = NOBODY if user == "nobody" and os.geteuid() == 0 else []
    owner = 65534 if as_user else os.geteuid()
    with host_directory(owner) as d, tempfile.TemporaryDirectory(dir=SHARED_BASE) as tmp:
        out, scratch = Path(tmp) / "out", Path(tmp) / "scratch"
        for p in (Path(tmp), out, scratch):
            p.mkdir(exist_ok=True)
            os.chown(p, owner, owner)
        before, mounts = snapshot(d), Path("/proc/self/mountinfo").read_text()
        program = [sys.executable, "-c", CONFINED, str(out), str(scratch), str(d)]
        argv = readonly.command(program, writable=[out], tmpfs=[scratch])
        if how == "remount":
            argv = [sys.executable, "-c", WITHOUT_MOUNT_SETATTR, *argv[4:]]
        p = subprocess.run([*as_user, *argv], cwd=ROOT, capture_output=True, text=True)
        if p.returncode == readonly.SETUP_FAILED and as_user and "user namespaces" in p.stderr:
            pytest.skip(f"unprivileged user namespaces are not available here: {p.stderr}")
        assert p.returncode == 0, p.stderr
        answers = json.loads(p.stdout)
        check_unchanged(d, before, answers)
        assert answers["remount"] == -1, "the confined program lifted the read-only flag"
        assert all(a != "ok" for a in answers["changes"].values()), answers
        assert (out / "written").read_text() == "results"
        assert not (scratch / "written").exists(), "the tmpfs is the namespace's own"
        assert Path("/proc/self/mountinfo").read_text() == mounts, "no mount reached the host"


def test_mounts_hidden_under_another_at_their_point_are_not_reached() -> None:
    M = readonly.Mount
    found = [
        M(1, 0, "/", frozenset({"rw"})),
        M(2, 1, "/dev/shm", frozenset({"rw"})),  # hidden by 3
        M(3, 2, "/dev/shm", frozenset({"ro"})),
        M(4, 2, "/dev/shm/sub", frozenset({"rw"})),  # below a hidden mount
        M(5, 3, "/dev/shm/x", frozenset({"ro"})),
        M(6, 1, "/proc", frozenset({"ro"})),
    ]
    assert [m.id for m in readonly.visible(found)] == [1, 3, 5, 6]
    assert "/" in {m.point for m in readonly.visible(readonly.mounts())}  # read back here


def test_confinement_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory"
    p = subprocess.run(
        readonly.command(["true"], writable=[missing]), capture_output=True, text=True
    )
    assert p.returncode == readonly.SETUP_FAILED
    assert p.stderr.startswith("syscalls: cannot make the host read-only for the target: ")
    assert str(missing) in p.stderr and len(p.stderr.splitlines()) == 1
    assert readonly.available() is None  # the plain case works here


# -- guests ------------------------------------------------------------------------------


def ninep_kernel() -> Path:
    """A Debian kernel package with 9p (the generic flavour), if one is in the cache."""
    from syscalls.targets.initramfs import cache_dir

    found = [
        p
        for p in glob.glob(str(cache_dir() / "debs" / "linux-image-*-amd64-unsigned_*.deb"))
        if "-cloud-" not in p
    ]
    if not found:
        pytest.skip(
            "no kernel with 9p in the cache: python -m syscalls.targets.vm_kernel fetch generic"
        )
    return Path(sorted(found)[-1])


def boot_options(target: str) -> tuple[str, Path | None]:
    """The target to run and the kernel to boot (vm), or skip saying why not here."""
    if target == "gvisor":
        need("runsc", "runsc")
        if os.geteuid() != 0:
            pytest.skip("runsc needs root to create its sandbox here")
        return "gvisor", None
    if target == "uml":
        need_uml()
        return "uml", None
    if target == "vm-9p":
        need("qemu-system-x86_64", "qemu-system-x86")
        return "vm", ninep_kernel()
    return "vm", cloud_kernel().image  # virtiofs: needs root (cloud_kernel skips otherwise)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["vm", "vm-9p", "uml", "gvisor"])
def test_a_root_guest_that_remounts_its_root_read_write_changes_nothing_on_the_host(
    target: str,
) -> None:
    name, kernel = boot_options(target)
    owner = os.geteuid()
    with host_directory(owner) as d, tempfile.TemporaryDirectory(dir=SHARED_BASE) as tmp:
        out = Path(tmp) / "out"
        report = out / "escape.json"
        before = snapshot(d)
        p = run_target(
            name, out, "suites/misc/test_uname.py", "-n", "0", "-p", "tests.escape_plugin",
            f"--escape-dir={d}", f"--escape-report={report}", kernel=kernel, time_limit=300,
        )  # fmt: skip
        log = p.stdout[-2000:] + p.stderr[-2000:]
        assert p.returncode == 0, log
        answers = json.loads(report.read_text())
        check_unchanged(d, before, answers)
        # The guest really had its root writable (as far as it could tell) and tried.
        assert answers["through /"].keys() >= {"create", "write", "unlink", "chmod"}
        if name != "gvisor":  # gVisor's sentry may refuse the remount itself
            assert answers["remount / rw"] == "ok", answers
