"""The host's file systems read-only for a target's host-side processes, as the HOST
enforces it: a guest kernel that remounts its root read-write still cannot change a file.

A VM guest reaches the host's root through virtiofsd (or QEMU's own 9p server), a UML
guest through linux.uml's hostfs, which open host paths with the host's syscalls on the
guest's behalf; a `ro` mount flag inside the guest is only the guest's promise. So each
of those processes starts through this module, as a program of its own:

    python -I -S readonly.py [--rw DIR]... [--tmpfs DIR]... -- PROGRAM ARG...

It enters a private mount namespace (when not root, inside a user namespace of its own
that maps only the caller's uid and gid), stops mount propagation both ways, mounts each
--rw DIR on itself and a fresh, private tmpfs on each --tmpfs DIR, makes every mount of
the tree read-only at once (mount_setattr with AT_RECURSIVE and MOUNT_ATTR_RDONLY; one
remount per mount on kernels before 5.12), makes the --rw and --tmpfs mounts writable
again, checks the result in /proc/self/mountinfo, and executes PROGRAM. PROGRAM cannot
undo it: as root it runs without CAP_SYS_ADMIN (dropped from the bounding set), as a
user it has no capabilities at all. Nothing it mounts reaches the host's namespace,
which it leaves when it exits (no mounts left behind).

Device nodes are not a way around it: virtiofs, 9p and hostfs present them to the guest
as the guest's own devices. Written in the standard library only, and run with -I -S,
so that it starts fast and imports nothing from the checkout or the current directory.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
SYS_MOUNT_SETATTR = 442  # the same number on every Linux arch (added after the unification)
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 0x1
PR_CAPBSET_DROP, CAP_SYS_ADMIN = 24, 21
# Per-mount flags a remount must keep (in a user namespace the kernel insists on it).
KEPT_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}
SETUP_FAILED = 125  # exit status when the namespace could not be made (message on stderr)

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(RuntimeError):
    """The read-only view could not be made; the message says which step failed."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


def _check(result: int, what: str) -> int:
    if result < 0:
        e = ctypes.get_errno()
        raise SetupError(f"{what}: {errno.errorcode.get(e, e)} ({os.strerror(e)})", e)
    return result


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None):
    def b(s: str | None) -> bytes | None:
        return None if s is None else os.fsencode(s)

    _check(
        _libc.mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data)),
        f"mount {target}",
    )


class MountAttr(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("attr_set", "attr_clr", "propagation", "userns")]


def _mount_setattr(path: str, recursive: bool, read_only: bool) -> None:
    attr = MountAttr(MOUNT_ATTR_RDONLY if read_only else 0, 0 if read_only else MOUNT_ATTR_RDONLY)
    flags = AT_RECURSIVE if recursive else 0
    _check(
        _libc.syscall(
            ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD), os.fsencode(path),
            ctypes.c_uint(flags), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr {path}",
    )  # fmt: skip


@dataclass(frozen=True)
class Mount:
    id: int
    parent: int
    point: str
    options: frozenset[str]  # per-mount options (ro/rw, nosuid, ...)


def mounts() -> list[Mount]:
    """Every mount this process sees, in /proc/self/mountinfo's order (parents first)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        found.append(Mount(int(fields[0]), int(fields[1]), point, frozenset(fields[5].split(","))))
    return found


def visible(found: list[Mount]) -> list[Mount]:
    """The mounts a path can reach: not those hidden under another mount made at the
    same point (nor what is mounted below those)."""
    by_id = {m.id: m for m in found}
    on_top = {
        m.parent: m.id for m in found if m.parent in by_id and by_id[m.parent].point == m.point
    }
    reachable: dict[int, bool] = {}

    def reached(m: Mount) -> bool:  # the path to m does not pass through a hidden mount
        if m.id not in reachable:
            parent = by_id.get(m.parent)
            reachable[m.id] = (
                parent is None
                or parent is m
                or (reached(parent) and on_top.get(parent.id, m.id) == m.id)
            )
        return reachable[m.id]

    return [m for m in found if reached(m) and m.id not in on_top]


def _remount(point: str, options: set[str], read_only: bool) -> None:
    """One mount's read-only flag through the old API, keeping its other flags."""
    flags = MS_REMOUNT | MS_BIND | (MS_RDONLY if read_only else 0)
    for name in options:
        flags |= KEPT_FLAGS.get(name, 0)
    _mount(None, point, None, flags, None)


def _set_read_only(path: str, recursive: bool, read_only: bool) -> None:
    try:
        _mount_setattr(path, recursive, read_only)
        return
    except SetupError as e:
        if e.errno != errno.ENOSYS:
            raise
    # Linux before 5.12: every mount at or below `path` that a path reaches, one by one.
    for m in visible(mounts()):
        if m.point == path or (recursive and m.point.startswith(path.rstrip("/") + "/")):
            _remount(m.point, m.options, read_only)


def _enter_namespace() -> None:
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        return
    _check(
        _libc.unshare(CLONE_NEWUSER | CLONE_NEWNS),
        "unshare(CLONE_NEWUSER|CLONE_NEWNS) (are unprivileged user namespaces disabled?)",
    )
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def setup(writable: Sequence[str], tmpfs: Sequence[str]) -> None:
    """The read-only view described in the module doc, in this process."""
    _enter_namespace()
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    for path in writable:
        _mount(path, path, None, MS_BIND | MS_REC, None)
    for path in tmpfs:
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    _set_read_only("/", recursive=True, read_only=True)
    for path in [*writable, *tmpfs]:
        _set_read_only(path, recursive=False, read_only=False)
    check(writable, tmpfs)
    if os.geteuid() == 0:
        _check(_libc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0), "drop CAP_SYS_ADMIN")


def check(writable: Sequence[str], tmpfs: Sequence[str]) -> None:
    """Every mount a path reaches is read-only, but those at the given paths, which are
    writable. (A mount hidden under another at its point stays as it was: no path
    reaches it, and the program started cannot unmount what hides it.)"""
    reached = {m.point: m for m in visible(mounts())}
    open_for_writing = [*writable, *tmpfs]
    for path in open_for_writing:
        if path not in reached:
            raise SetupError(f"{path} is not a mount point after setup")
    for point, m in reached.items():
        want = "rw" if point in open_for_writing else "ro"
        if want not in m.options:
            raise SetupError(f"{point} is mounted {'rw' if want == 'ro' else 'ro'} after setup")


def command(program: Sequence[str], writable: Sequence[Path] = (), tmpfs: Sequence[Path] = ()):
    """The argv that runs `program` with the host read-only but `writable`, with a fresh
    tmpfs on each of `tmpfs` (all absolute, existing directories)."""
    argv = [sys.executable, "-I", "-S", str(Path(__file__).resolve())]
    for flag, paths in (("--rw", writable), ("--tmpfs", tmpfs)):
        for path in paths:
            argv += [flag, str(Path(path).resolve())]
    return [*argv, "--", *program]


def available() -> str | None:
    """None when a read-only view can be made here; else why not (one line)."""
    p = subprocess.run(command(["true"]), capture_output=True, text=True, check=False)
    if p.returncode == 0:
        return None
    return p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"status {p.returncode}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="readonly.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rw", action="append", default=[], metavar="DIR", help="writable")
    parser.add_argument("--tmpfs", action="append", default=[], metavar="DIR")
    parser.add_argument("program", nargs="+", help="after --: the program and its arguments")
    args = parser.parse_args(argv)
    try:
        setup(args.rw, args.tmpfs)
    except (SetupError, OSError) as e:
        print(f"syscalls: cannot make the host read-only for the target: {e}", file=sys.stderr)
        return SETUP_FAILED
    try:
        os.execvp(args.program[0], args.program)
    except OSError as e:
        print(f"syscalls: {args.program[0]}: {e.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
