"""A disk for the VM guest's /tmp: ext4 on a virtio block device, made afresh each boot.

Inside the guest every other file system is a tmpfs or a share of the host's, so the
tests that need a disk-backed one (`disk_tmp`: user xattrs, quotas, O_DIRECT, FIEMAP,
file handles) skipped there, or ran on a tmpfs: a fresh kernel's ext4 and block layer
went untested. With this disk the guest's /tmp, where TMPDIR points, is ext4, as on a
Debian host; `tmp` stays on the guest's /dev/shm (a tmpfs), as on the host.

The host makes the image with mkfs.ext4 (e2fsprogs) in the target's own temporary
directory, sparse, its inode tables and journal written there (the guest would
otherwise spend emulated CPU zeroing them). QEMU, confined to a read-only host, may
write that directory, and the guest writes nothing else of the host's: the image goes
with the directory when the run ends. The guest's init mounts it on /tmp where the
kernel can (virtio_blk and ext4 built in or among its modules); where it cannot, /tmp is
a tmpfs as before and the console says why.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SIZE_MB = 512  # sparse: what the tests write, a few MiB, is all it takes on the host
# The guest's modules for it (with their dependencies); those built in are not found
MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4")
IMAGE = "scratch.ext4"
CMDLINE = "syscalls.disk=vda"  # tells the guest's init a disk is there, and its name
MKFS_LIMIT = 60.0


def mkfs() -> str | None:
    """mkfs.ext4's path; None where e2fsprogs is missing (sbin is off a user's PATH)."""
    return shutil.which("mkfs.ext4") or next(
        (p for p in ("/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4") if Path(p).is_file()), None
    )


def make(directory: Path) -> tuple[Path | None, str]:
    """An empty ext4 image in `directory` (its own, made here), and "" ; or None and
    why it could not be made (the guest's /tmp is then a tmpfs)."""
    program = mkfs()
    if program is None:
        return None, "mkfs.ext4 not found (e2fsprogs)"
    directory.mkdir(mode=0o700, exist_ok=True)
    image = directory / IMAGE
    with image.open("wb") as f:
        f.truncate(SIZE_MB << 20)
    argv = [program, "-q", "-F", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0",
            "-L", "syscalls-tmp", str(image)]  # fmt: skip
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=MKFS_LIMIT, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        image.unlink(missing_ok=True)
        return None, f"mkfs.ext4: {e}"
    if p.returncode != 0:
        image.unlink(missing_ok=True)
        last = (p.stderr.strip().splitlines() or [f"status {p.returncode}"])[-1]
        return None, f"mkfs.ext4: {last}"
    return image, ""


def qemu_argv(image: Path) -> list[str]:
    """QEMU's arguments for the image as the guest's first virtio disk (/dev/vda); its
    writes are never flushed to the host's disk (cache=unsafe: the image is thrown away)."""
    return [
        "-drive",
        f"file={str(image).replace(',', ',,')},if=none,id=scratch,format=raw,cache=unsafe",
        "-device",
        "virtio-blk-pci,drive=scratch",
    ]
