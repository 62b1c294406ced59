"""The VM target's parts, without booting: kernel images and their modules
(syscalls.targets.vm_kernel), the initramfs (syscalls.targets.initramfs), and the pure
parts of syscalls.targets.vm (QEMU's command line, the choice of share, the KVM memo,
the console filter). They read Debian's real cloud kernel package, the one ci/setup
downloads and test_target_vm.py boots.
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from syscalls.targets import Options, TargetUnavailable, initramfs, vm, vm_kernel
from syscalls.targets.initramfs import Entry
from tests.target_checks import cloud_deb

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cloud() -> vm_kernel.KernelImage:
    """Debian's cloud kernel package, unpacked in the cache (ci/setup fetches it)."""
    return vm_kernel.resolve(cloud_deb())


# -- kernel images ---------------------------------------------------------------------


def test_release_is_read_from_the_bzimage_header(cloud: vm_kernel.KernelImage) -> None:
    # Debian names the file after the release; the header says the same.
    assert cloud.image.name == f"vmlinuz-{cloud.release}"
    assert vm_kernel.release_of(cloud.image) == cloud.release
    assert cloud.release.startswith("6.1.") and cloud.release.endswith("-cloud-amd64")


def test_a_file_that_is_no_bzimage_is_a_clear_error(tmp_path: Path) -> None:
    elf = tmp_path / "vmlinux"
    elf.write_bytes(Path(sys.executable).resolve().read_bytes()[:0x10000])  # an ELF
    with pytest.raises(vm_kernel.KernelError, match="not a bzImage"):
        vm_kernel.release_of(elf)
    with pytest.raises(vm_kernel.KernelError, match="No such file"):
        vm_kernel.release_of(tmp_path / "missing")
    with pytest.raises(vm_kernel.KernelError, match="no such file"):
        vm_kernel.resolve(tmp_path / "missing")


def test_a_package_is_resolved_to_its_image_modules_and_config(
    cloud: vm_kernel.KernelImage,
) -> None:
    package = cloud.image.parents[1]  # the unpacked .deb: boot/, lib/modules/RELEASE
    assert package.parent == initramfs.cache_dir() / "kernels"
    assert cloud.modules_dir == package / "lib" / "modules" / cloud.release
    assert cloud.config is not None
    assert cloud.config == vm_kernel.read_config(package / "boot" / f"config-{cloud.release}")
    # TARGETS-NOTES: the cloud 6.1 kernel has virtio and virtiofs as modules, no 9p.
    assert cloud.config["CONFIG_VIRTIO_FS"] == "m"
    assert "CONFIG_9P_FS" not in cloud.config
    assert cloud.shares() == ["virtiofs"]
    assert cloud.index["virtiofs"].name == "virtiofs.ko"


def test_modules_come_with_their_dependencies_first(cloud: vm_kernel.KernelImage) -> None:
    modules = cloud.modules_for("virtiofs")
    names = [name.removesuffix(".ko") for name, _ in modules]
    assert {"virtio_pci", "virtiofs", "fuse", "virtio", "virtio_ring"} <= set(names)
    assert len(names) == len(set(names))
    for name, data in modules:
        assert data[:4] == b"\x7fELF", name
        for dep in vm_kernel.depends(data):  # loaded before the module that needs it
            assert names.index(dep) < names.index(name.removesuffix(".ko")), (name, dep)
    assert names.index("fuse") < names.index("virtiofs")


def test_module_dependencies_agree_with_modinfo(cloud: vm_kernel.KernelImage) -> None:
    """kmod's modinfo reads the same .modinfo section: the parser agrees with it."""
    modinfo = shutil.which("modinfo", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if modinfo is None:
        pytest.skip("modinfo is not installed (Debian package kmod)")
    for name, data in cloud.modules_for("virtiofs"):
        path = cloud.index[name.removesuffix(".ko")]
        p = subprocess.run(
            [modinfo, "-F", "depends", str(path)], capture_output=True, text=True, check=True
        )
        assert vm_kernel.depends(data) == [d for d in p.stdout.strip().split(",") if d], name


def test_modules_for_a_share_the_kernel_lacks_are_only_what_it_has(
    cloud: vm_kernel.KernelImage,
) -> None:
    names = [name for name, _ in cloud.modules_for("9p")]
    assert "virtio_pci.ko" in names
    assert not {"9p.ko", "9pnet_virtio.ko"} & set(names)


def test_compressed_modules_are_decompressed(cloud: vm_kernel.KernelImage, tmp_path: Path) -> None:
    ko = cloud.index["virtiofs"].read_bytes()
    (tmp_path / "a.ko.xz").write_bytes(lzma.compress(ko))
    (tmp_path / "b.ko.gz").write_bytes(gzip.compress(ko))
    assert vm_kernel.read_module(tmp_path / "a.ko.xz") == ko
    assert vm_kernel.read_module(tmp_path / "b.ko.gz") == ko
    if shutil.which("zstd"):
        zst = subprocess.run(["zstd", "-q", "-c"], input=ko, capture_output=True, check=True)
        (tmp_path / "c.ko.zst").write_bytes(zst.stdout)
        assert vm_kernel.read_module(tmp_path / "c.ko.zst") == ko
    assert vm_kernel.depends(b"not an ELF file") == []
    # Dashes and underscores name the same module (as modprobe treats them).
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "virtio-fs-test.ko.xz").write_bytes(b"")
    assert vm_kernel.module_index(tmp_path)["virtio_fs_test"].name == "virtio-fs-test.ko.xz"


def test_a_build_trees_image_finds_its_config(cloud: vm_kernel.KernelImage, tmp_path: Path) -> None:
    """arch/x86/boot/bzImage with the tree's .config three levels up, no modules."""
    boot = tmp_path / "arch" / "x86" / "boot"
    boot.mkdir(parents=True)
    shutil.copyfile(cloud.image, boot / "bzImage")
    (tmp_path / ".config").write_text(
        "# comment\nCONFIG_VIRTIO_PCI=y\nCONFIG_NET_9P_VIRTIO=y\nCONFIG_9P_FS=y\n"
        'CONFIG_LOCALVERSION="-test"\n# CONFIG_VIRTIO_FS is not set\n'
    )
    kernel = vm_kernel.resolve(boot / "bzImage", cache=tmp_path / "cache")
    assert kernel.release == cloud.release
    assert kernel.config == {
        "CONFIG_VIRTIO_PCI": "y",
        "CONFIG_NET_9P_VIRTIO": "y",
        "CONFIG_9P_FS": "y",
        "CONFIG_LOCALVERSION": "-test",
    }
    assert kernel.shares() == ["9p"]
    assert kernel.modules_for("9p") == []  # built in: nothing to load
    (tmp_path / ".config").unlink()
    unknown = vm_kernel.resolve(boot / "bzImage", cache=tmp_path / "cache")
    assert unknown.config is None
    assert unknown.shares() == ["9p", "virtiofs"]  # unknown: try both


def test_a_package_that_dpkg_cannot_read_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "linux-image-broken_1_amd64.deb"
    bad.write_bytes(b"!<arch>\nthis is not a package\n")
    cache = tmp_path / "cache"
    with pytest.raises(vm_kernel.KernelError, match="not a package dpkg can unpack"):
        vm_kernel.resolve(bad, cache=cache)
    assert list((cache / "kernels").iterdir()) == []


def test_a_package_is_unpacked_once(cloud: vm_kernel.KernelImage) -> None:
    deb = vm_kernel.debian_package("cloud")
    assert deb.parent == initramfs.cache_dir() / "debs"
    assert deb.name.startswith(f"linux-image-{cloud.release}-unsigned_")
    unpacked = cloud.image.parents[1]
    before = unpacked.stat().st_mtime_ns
    assert vm_kernel.unpack_deb(deb, initramfs.cache_dir()) == unpacked
    assert unpacked.stat().st_mtime_ns == before


def test_fetch_command_prints_the_package(
    cloud: vm_kernel.KernelImage, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vm_kernel.main(["fetch", "cloud"]) == 0
    assert capsys.readouterr().out.strip() == str(vm_kernel.debian_package("cloud"))
    assert vm_kernel.main([]) == 2
    assert "usage" in capsys.readouterr().out


# -- the initramfs ---------------------------------------------------------------------


def cpio(archive: bytes, *args: str) -> str:
    p = subprocess.run(["cpio", "--quiet", *args], input=archive, capture_output=True, check=True)
    return p.stdout.decode()


def test_newc_archive_reads_back_with_cpio() -> None:
    entries = [
        Entry("dir", stat.S_IFDIR | 0o755),
        Entry("dir/file", stat.S_IFREG | 0o644, b"odd length\n"),
        Entry("dir/empty", stat.S_IFREG | 0o600),
        Entry("link", stat.S_IFLNK | 0o777, b"dir/file"),
        Entry("console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
    ]
    archive = initramfs.newc(entries)
    assert len(archive) % 4 == 0
    assert cpio(archive, "-t").split() == [e.name for e in entries]
    listing = cpio(archive, "-tv").splitlines()
    assert listing[0].startswith("drwxr-xr-x")
    assert listing[1].startswith("-rw-r--r--") and " 11 " in listing[1]
    assert listing[3].startswith("lrwxrwxrwx") and listing[3].endswith("link -> dir/file")
    assert listing[4].startswith("crw-------") and "5,   1" in listing[4]
    assert cpio(archive, "-i", "--to-stdout", "dir/file") == "odd length\n"


def test_initramfs_holds_busybox_init_and_modules_in_order(
    cloud: vm_kernel.KernelImage, tmp_path: Path
) -> None:
    modules = cloud.modules_for("virtiofs")
    path = initramfs.build(modules, cache=tmp_path)
    assert path.parent == tmp_path / "initramfs"
    archive = gzip.decompress(path.read_bytes())
    names = cpio(archive, "-t").split()
    assert {"init", "bin/busybox", "bin/sh", "dev/console", "modules/order"} <= set(names)
    assert [f"modules/{n}" for n, _ in modules] == [n for n in names if n.endswith(".ko")]
    order = cpio(archive, "-i", "--to-stdout", "modules/order").split()
    assert order == [n.removesuffix(".ko") for n, _ in modules]
    assert cpio(archive, "-i", "--to-stdout", "init") == initramfs.init_script()
    busybox = subprocess.run(
        ["cpio", "--quiet", "-i", "--to-stdout", "bin/busybox"],
        input=archive,
        capture_output=True,
        check=True,
    ).stdout
    assert busybox == initramfs.BUSYBOX.read_bytes()
    # Cached by content: the same modules reuse the file, others get their own.
    mtime = path.stat().st_mtime_ns
    assert initramfs.build(modules, cache=tmp_path) == path
    assert path.stat().st_mtime_ns == mtime
    assert initramfs.build([], cache=tmp_path) != path
    assert not list((tmp_path / "initramfs").glob("*.tmp"))


def test_init_script_is_valid_shell_and_marks_its_lines() -> None:
    script = initramfs.init_script()
    assert "MARK" not in script
    # Each line ends with the seconds since boot, for the timeline.
    assert f"echo \"{initramfs.MARK} $* [$(cut -d' ' -f1 /proc/uptime" in script
    p = subprocess.run(
        [str(initramfs.BUSYBOX), "sh", "-n"], input=script, capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr


# -- vm: QEMU's command line, the share, KVM, the console ------------------------------


def append_of(argv: list[str]) -> list[str]:
    return argv[argv.index("-append") + 1].split()


def test_qemu_argv_for_9p_under_tcg(tmp_path: Path) -> None:
    image, initrd, out = tmp_path / "bzImage", tmp_path / "initrd", tmp_path / "out"
    argv = vm.qemu_argv("qemu", image, initrd, "9p", "tcg", out, 512, "rdinit=/other quiet", 2)
    assert argv[0] == "qemu"
    assert argv[argv.index("-kernel") + 1] == str(image)
    assert argv[argv.index("-initrd") + 1] == str(initrd)
    assert argv[argv.index("-m") + 1] == "512M"
    assert argv[argv.index("-accel") + 1].startswith("tcg")
    assert "-no-reboot" in argv and argv[argv.index("-serial") + 1] == "stdio"
    cmdline = append_of(argv)
    assert {"console=ttyS0", "panic=-1", "syscalls.fs=9p", f"syscalls.out={out}"} <= set(cmdline)
    # The user's arguments come last, so they win over ours (the kernel takes the last).
    assert cmdline[-2:] == ["rdinit=/other", "quiet"]
    assert cmdline.index("rdinit=/init") < cmdline.index("rdinit=/other")
    fsdevs = [argv[i + 1] for i, a in enumerate(argv) if a == "-fsdev"]
    assert fsdevs[0].startswith("local,id=hostroot,path=/,") and "readonly=on" in fsdevs[0]
    assert fsdevs[1] == f"local,id=results,path={out},security_model=none"  # writable
    devices = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
    assert {d.split("mount_tag=")[1] for d in devices} == {"hostroot", "results"}


@pytest.mark.parametrize("cpus", [1, 2, 16])
def test_qemu_argv_gives_the_guest_the_vcpus_asked_for(tmp_path: Path, cpus: int) -> None:
    argv = vm.qemu_argv("qemu", tmp_path, tmp_path, "9p", "tcg", tmp_path, 1024, "", cpus)
    assert argv[argv.index("-smp") + 1] == str(cpus)


def test_default_vcpus_are_the_host_cpus_this_process_may_use_up_to_a_bound() -> None:
    usable = len(os.sched_getaffinity(0))
    assert vm.default_cpus() == min(usable, vm.DEFAULT_CPUS)


def test_default_memory_grows_with_the_vcpus_past_two() -> None:
    assert [vm.default_memory_mb(n) for n in (1, 2, 3, 8)] == [1024, 1024, 1280, 2560]


def test_qemu_argv_for_virtiofs_under_kvm(tmp_path: Path) -> None:
    argv = vm.qemu_argv("qemu", tmp_path, tmp_path, "virtiofs", "kvm", tmp_path, 1024, "", 2)
    assert argv[argv.index("-accel") + 1] == "kvm"
    assert argv[argv.index("-cpu") + 1] == "host"
    assert "-fsdev" not in argv  # virtiofsd's sockets are added when it starts
    assert "syscalls.fs=virtiofs" in append_of(argv)


def test_qemu_accepts_the_command_line(cloud: vm_kernel.KernelImage, tmp_path: Path) -> None:
    """QEMU itself takes what qemu_argv builds: with -S (CPU stopped) it sets up the
    machine, its kernel and both 9p shares, then waits instead of exiting on an error."""
    qemu = shutil.which(vm.QEMU)
    if qemu is None:
        pytest.skip(f"{vm.QEMU} is not installed (ci/setup installs qemu-system-x86)")
    out, initrd = tmp_path / "out", tmp_path / "initrd"
    out.mkdir()
    initrd.write_bytes(b"")
    argv = vm.qemu_argv(qemu, cloud.image, initrd, "9p", "tcg", out, 256, "", 2)
    proc = subprocess.Popen(
        [*argv, "-S"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert code is None, err.decode()
    bad = vm.qemu_argv(qemu, tmp_path / "none", initrd, "9p", "tcg", out, 256, "", 2)
    p = subprocess.run(bad, capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode != 0
    assert f"could not open kernel file '{tmp_path / 'none'}'" in p.stderr


def kernel_with(config: dict[str, str] | None) -> vm_kernel.KernelImage:
    return vm_kernel.KernelImage(image=Path("/nonexistent"), release="6.1.0-test", config=config)


def test_choose_share_prefers_9p_then_virtiofs(cloud: vm_kernel.KernelImage) -> None:
    both = {o: "y" for opts in vm_kernel.SHARE_CONFIG.values() for o in opts}
    assert vm.choose_share(kernel_with(both)) == "9p"
    assert vm.choose_share(kernel_with(None)) == "9p"  # unknown config: 9p first
    if os.geteuid() == 0 and vm.VIRTIOFSD.exists():
        assert vm.choose_share(cloud) == "virtiofs"
    else:
        with pytest.raises(TargetUnavailable, match="only over virtiofs"):
            vm.choose_share(cloud)
    with pytest.raises(TargetUnavailable, match=r"neither 9p .* nor virtiofs"):
        vm.choose_share(kernel_with({"CONFIG_VIRTIO_PCI": "y", "CONFIG_9P_FS": "y"}))


def test_kvm_failure_is_remembered_until_the_host_reboots(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert vm.kvm_state() == tmp_path / "syscalls" / "kvm-failed"
    assert vm.boot_id() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    usable = os.access("/dev/kvm", os.R_OK | os.W_OK)
    assert vm.kvm_worth_trying() == usable  # nothing remembered yet
    vm.remember_kvm_failure()
    assert vm.kvm_state().read_text() == vm.boot_id() + "\n"
    assert not vm.kvm_worth_trying()
    vm.kvm_state().write_text("a-boot-before-the-last-reboot\n")
    assert vm.kvm_worth_trying() == usable


def test_reached_init_reads_the_console_log(tmp_path: Path) -> None:
    assert not vm.reached_init(tmp_path)  # no console.log
    (tmp_path / "console.log").write_bytes(b"[ 0.1] booting\n")
    assert not vm.reached_init(tmp_path)
    (tmp_path / "console.log").write_bytes(f"x\n{initramfs.MARK} started, kernel 6.1\n".encode())
    assert vm.reached_init(tmp_path)


def test_console_echo_hides_kernel_chatter_but_not_trouble() -> None:
    sink = io.BytesIO()
    echo = vm.ConsoleEcho(sink)
    echo.write(b"[    0.000000] Linux version 6.1.0\r\n[    1.5] virtio")
    echo.write(b"_blk: probe\nsyscalls-init: started\n....")
    assert sink.getvalue() == b"syscalls-init: started\n...."  # dots pass unfinished
    echo.write(b"F.\n[    2.0] WARNING: CPU: 0 at foo\n[    2.1] quiet line\n")
    assert sink.getvalue().endswith(b"F.\n[    2.0] WARNING: CPU: 0 at foo\n")
    echo.write(b"[    3.0] Kernel panic - not syncing: x\n[    3.1] after the panic\n")
    assert sink.getvalue().endswith(b"not syncing: x\n[    3.1] after the panic\n")


def test_boot_of_a_missing_image_is_a_clear_error(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "syscalls", "boot", str(tmp_path / "bzImage")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert p.returncode == 2
    assert f"--target vm: {tmp_path / 'bzImage'}: no such file" in p.stderr


def test_the_guests_per_test_limit_is_not_stretched_like_its_waits(tmp_path: Path) -> None:
    # A hang in a TCG guest costs TEST_TIMEOUT, not TEST_TIMEOUT x TIME_SCALE["tcg"].
    assert vm.per_test_limit(Options(out=tmp_path)) == vm.TEST_TIMEOUT == 120.0
    assert vm.per_test_limit(Options(out=tmp_path, time_scale=3.0)) == 360.0
