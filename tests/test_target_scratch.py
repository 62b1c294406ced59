"""syscalls.targets.scratch: the VM guest's /tmp on an ext4 disk made afresh each boot,
and its parts elsewhere (the guest's modules, its init's mount, QEMU's drive)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from syscalls.targets import initramfs, scratch, vm_kernel
from tests.target_checks import cloud_deb

EXT4_MAGIC = 0xEF53  # s_magic, at offset 56 of the superblock, which starts at 1024


def test_the_image_is_an_empty_ext4_file_system_of_its_size(tmp_path: Path) -> None:
    if scratch.mkfs() is None:
        pytest.skip("mkfs.ext4 is not installed (e2fsprogs; ci/setup installs it)")
    image, why = scratch.make(tmp_path / "scratch")
    assert image is not None, why
    assert image.stat().st_size == scratch.SIZE_MB << 20
    with image.open("rb") as f:
        f.seek(1024 + 56)
        assert struct.unpack("<H", f.read(2))[0] == EXT4_MAGIC
    assert image.stat().st_blocks * 512 < image.stat().st_size // 4  # sparse on the host
    assert (tmp_path / "scratch").stat().st_mode & 0o777 == 0o700


def test_without_mkfs_there_is_no_image_and_it_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scratch, "mkfs", lambda: None)
    assert scratch.make(tmp_path / "scratch") == (None, "mkfs.ext4 not found (e2fsprogs)")


def test_a_failing_mkfs_leaves_no_image_and_its_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "mkfs.ext4"
    fake.write_text("#!/bin/sh\necho 'first' >&2\necho 'no space on device' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(scratch, "mkfs", lambda: str(fake))
    image, why = scratch.make(tmp_path / "scratch")
    assert (image, why) == (None, "mkfs.ext4: no space on device")
    assert not list((tmp_path / "scratch").iterdir())


def test_qemu_gets_the_image_as_a_virtio_disk_with_commas_doubled(tmp_path: Path) -> None:
    argv = scratch.qemu_argv(tmp_path / "a,b" / scratch.IMAGE)
    drive = argv[argv.index("-drive") + 1]
    assert drive.startswith(f"file={tmp_path}/a,,b/{scratch.IMAGE},if=none,id=scratch,")
    assert "cache=unsafe" in drive.split(",")
    assert argv[argv.index("-device") + 1] == "virtio-blk-pci,drive=scratch"


def test_the_guests_modules_include_the_disks_driver() -> None:
    cloud = vm_kernel.resolve(cloud_deb())
    names = [name for name, _ in cloud.modules_for("virtiofs", scratch.MODULES)]
    assert "virtio_blk.ko" in names  # a module in Debian's cloud kernel; ext4 is built in
    assert names.index("virtio_pci.ko") < names.index("virtio_blk.ko")
    assert names[: len(cloud.modules_for("virtiofs"))] == [
        n for n, _ in cloud.modules_for("virtiofs")
    ]


def test_init_mounts_the_disk_on_tmp_only_when_told_and_else_a_tmpfs() -> None:
    script = initramfs.init_script()
    assert 'syscalls.disk=*) DISK="${arg#syscalls.disk=}" ;;' in script
    assert 'mount -t ext4 "/dev/$DISK" $R/tmp' in script
    assert "mount -t tmpfs -o mode=1777 tmpfs $R/tmp" in script


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_init_leaves_the_guest_unchrooted(tmp_path: Path) -> None:
    """The guest's root is moved over the namespace's root, not chrooted into: a
    chrooted process may not create a user namespace. Run as init runs it, in a mount
    namespace of its own here: the shell chrooted this way may create one."""
    script = initramfs.init_script()
    assert "cd $R && mount -o move . / && R=." in script
    probe = (
        "mkdir -p /mnt/r && mount -t tmpfs tmpfs /mnt/r && mkdir /mnt/r/bin && "
        "cp /bin/busybox /mnt/r/bin/ && cd /mnt/r && mount -o move . / && "
        "chroot . /bin/busybox unshare -U /bin/busybox true && echo unchrooted"
    )
    p = subprocess.run(
        ["unshare", "-m", "--propagation", "private", str(initramfs.BUSYBOX), "sh", "-c", probe],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if "unshare failed" in p.stderr:  # util-linux's, not the chrooted busybox's
        pytest.skip(f"no mount namespace here: {p.stderr.strip()}")
    assert p.stdout.strip() == "unchrooted", p.stderr
