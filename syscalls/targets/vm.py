"""--target vm (`syscalls boot IMAGE`): the suite inside a kernel image booted by QEMU.

The guest is the image plus a busybox initramfs (syscalls.targets.initramfs) that loads
the image's virtio and file-system modules (syscalls.targets.vm_kernel), mounts the
host's root read-only over virtiofs or 9p and the results directory writable at its
host path, and runs guest.sh (syscalls.targets.guest) chrooted into the host root with
this checkout's own Python. The host root is read-only as the host enforces it: QEMU
and virtiofsd run where every host file system but the results directory is read-only
(syscalls.targets.readonly), and 9p is exported readonly=on. The serial console
streams to the terminal (kernel chatter filtered out unless it reports trouble) and to
OUT/console.log; the suite's status comes back through the results share, because QEMU
exits 0 whenever the guest powers off.

Engine: virtme-ng (PyPI) was evaluated and not used. On these hosts it needs udev
installed or it exits 255 without a word; it passes the Rust virtiofsd's options, so it
cannot use Debian 12's C virtiofsd and falls back to 9p, which Debian's cloud kernels
lack (they panic); it truncates a redirected stdout; and it has no notion of our results
share, limits or status. What we need from QEMU is one command line, so it is built here.

Acceleration: KVM is tried for real -- the actual boot, under a short limit for reaching
init -- only when /dev/kvm is usable; if the guest does not reach init (on PVM hosts
QEMU aborts or spins silently), QEMU's process group is killed and the run restarts
under TCG; the failure is remembered until the host reboots. `--accel` overrides.
Facts and timings: /work/shared/TARGETS-NOTES.md.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from syscalls.targets import (
    Options,
    TargetUnavailable,
    bytecode,
    guest,
    initramfs,
    readonly,
    results,
    scratch,
    vm_kernel,
)
from syscalls.targets.procgroup import ProcessGroup

NAME = "vm"
QEMU = "qemu-system-x86_64"
VIRTIOFSD = Path("/usr/lib/qemu/virtiofsd")  # Debian 12's C daemon (qemu-system-common)
# Guest slowdown: under TCG pure Python runs 7-13x slower and spawning a process ~50x.
# Stretches the tests' own waits for a child or a blocked state (SYSCALLS_TIME_SCALE).
TIME_SCALE = {"kvm": 2.0, "tcg": 10.0}
# The guest's per-test limit is pyproject's, not stretched like those waits: the slowest
# test takes about 1 s in a TCG guest (0.9 s at load 4), and a test that hangs in a
# broken kernel then costs two minutes of the run, not twenty. --time-scale stretches it.
TEST_TIMEOUT = 120.0
DEFAULT_CPUS = 16  # vCPUs by default at most (tests scale with them: 2.05x from 1 to 2)
MAX_CPUS = 64  # --cpus at most
BOOT_LIMIT = {"kvm": 60.0, "tcg": 240.0}  # until guest.sh starts the suite
KVM_TRIAL = 20.0  # --accel auto: seconds for a KVM guest to reach init before TCG
TOTAL = 4 * 3600.0
INIT_STARTED = f"{initramfs.MARK} started".encode()


def run(opts: Options, share: str | None = None) -> int:
    """Boot opts.kernel and run the suite in it; `share` forces 9p or virtiofs."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        raise TargetUnavailable(f"{QEMU} not found: install qemu-system-x86 (ci/setup does)")
    if opts.kernel is None:
        raise TargetUnavailable("no kernel image given (syscalls boot IMAGE)")
    try:
        kernel = vm_kernel.resolve(opts.kernel)
    except vm_kernel.KernelError as e:
        raise TargetUnavailable(str(e)) from None
    share = share or choose_share(kernel)
    try:
        initrd = initramfs.build(kernel.modules_for(share, scratch.MODULES))
    except (OSError, vm_kernel.KernelError) as e:
        raise TargetUnavailable(f"initramfs: {e}") from None
    out = opts.out.resolve()
    for what, path in [("--out", out), *(("the checkout", p) for p in guest.kept())]:
        if re.search(r"[\s\"']", str(path)):  # it travels on the kernel command line
            raise TargetUnavailable(f"{what} {path}: the path must not contain blanks or quotes")
    guest.check_out(out)
    confined = confine(share)
    job = guest.bytecode_job(opts, NAME)
    accel = opts.accel or "auto"
    tries = ["kvm", "tcg"] if accel == "auto" and kvm_worth_trying() else [accel]
    if tries == ["auto"]:
        tries = ["tcg"]
    for accel in tries:
        trial = accel == "kvm" and len(tries) > 1
        print(
            f"syscalls: vm: booting {kernel.image.name} ({kernel.release}) under {accel}, "
            f"host root over {share}",
            file=sys.stderr,
        )
        ending, elapsed, spec, limits = boot(
            qemu, opts, kernel, initrd, share, accel, out, trial, confined, job
        )
        if trial and not reached_init(out):
            remember_kvm_failure()
            print(
                f"syscalls: vm: under KVM the guest did not reach init within {KVM_TRIAL:.0f} s "
                f"({ending.kind}); falling back to TCG (--accel kvm insists)",
                file=sys.stderr,
            )
            (out / results.CONSOLE).replace(out / "console-kvm.log")
            continue
        return guest.conclude(spec, NAME, ending, limits, elapsed)
    raise AssertionError("unreachable")


def default_cpus() -> int:
    """One vCPU per host CPU this process may use, at most DEFAULT_CPUS. Under TCG each
    vCPU is a host thread (MTTCG), so the guest's workers, one per vCPU and one more,
    run on as many host cores."""
    return max(1, min(DEFAULT_CPUS, len(os.sched_getaffinity(0))))


def default_memory_mb(cpus: int) -> int:
    """1 GiB for two vCPUs, 256 MiB more for each vCPU past that: each adds a worker,
    and the tests a worker runs at once map up to a few hundred MiB."""
    return 1024 + 256 * max(0, cpus - 2)


def per_test_limit(opts: Options) -> float:
    """The guest's per-test limit (its pytest --timeout): TEST_TIMEOUT, x --time-scale."""
    return TEST_TIMEOUT * (opts.time_scale or 1.0)


def boot(
    qemu: str,
    opts: Options,
    kernel: vm_kernel.KernelImage,
    initrd: Path,
    share: str,
    accel: str,
    out: Path,
    trial: bool,
    confined: bool = True,
    job: bytecode.Job | None = None,
) -> tuple[guest.Ending, float, Options, guest.Limits]:
    results.clear(out)
    (out / "virtiofsd.log").unlink(missing_ok=True)
    scale = opts.time_scale or TIME_SCALE.get(accel, TIME_SCALE["tcg"])
    test_timeout = per_test_limit(opts)
    # Workers forked inside from the collected session (auto: the guest's CPUs and one
    # more): the whole suite under TCG 82 s with 3, 123 s in one process.
    spec = dataclasses.replace(opts, out=out, time_scale=scale)
    # The image's own modules, at the host path the guest also sees: the disposable
    # tests load one (suites/misc/conftest.py).
    env = {"SYSCALLS_MODULES_DIR": str(kernel.modules_dir)} if kernel.modules_dir else {}
    env |= guest.kernel_config(kernel.config, out, out)  # the guest sees OUT where it is
    # The results share (virtiofs or 9p, no cache) passes each write to the host at once.
    guest.write_script(spec, NAME, test_timeout, scale, job=job, write_through=True, extra_env=env)
    limits = guest.Limits(
        boot=KVM_TRIAL if trial else BOOT_LIMIT.get(accel, BOOT_LIMIT["tcg"]),
        test=test_timeout + 60,
        total=opts.time_limit or TOTAL,
    )
    append = opts.append
    with (
        guest.terminate_as_interrupt(),  # SIGTERM too: QEMU's group dies, results salvaged
        tempfile.TemporaryDirectory(prefix="syscalls-vm-") as tmp,
        ProcessGroup() as group,
    ):
        disk, why = scratch.make(Path(tmp) / "scratch")
        if disk is None:
            print(f"syscalls: vm: no disk for the guest's /tmp ({why}): a tmpfs", file=sys.stderr)
        else:
            append = f"{append} {scratch.CMDLINE}".strip()
        cpus = opts.cpus or default_cpus()
        memory_mb = opts.memory_mb or default_memory_mb(cpus)
        argv = qemu_argv(qemu, kernel.image, initrd, share, accel, out, memory_mb, append, cpus)
        if disk is not None:
            argv += scratch.qemu_argv(disk)
        if share == "virtiofs":
            argv += start_virtiofsd(group, Path(tmp), out, memory_mb, confined)
        guest.start_job(group, job)  # the guest's bytecode, while QEMU boots
        (out / results.CONSOLE).write_text(f"$ {shlex.join(argv)}\n")
        if confined:  # QEMU's 9p server writes the results share, and QEMU its disk image
            writable = [out] if share == "9p" else []
            argv = readonly.command(argv, writable=[*writable, *([disk.parent] if disk else [])])
        start = time.monotonic()
        proc = group.start(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        echo = ConsoleEcho(getattr(sys.stdout, "buffer", sys.stdout))
        try:
            ending = guest.supervise(proc, out, limits, echo)
        except KeyboardInterrupt:
            ending = guest.Ending("interrupted")
    return ending, time.monotonic() - start, spec, limits


def qemu_argv(
    qemu: str,
    image: Path,
    initrd: Path,
    share: str,
    accel: str,
    out: Path,
    memory_mb: int,
    append: str,
    cpus: int,
) -> list[str]:
    # Under TCG the kernel finds the vCPUs' TSCs unsynchronised and falls back to the
    # HPET, whose every read is emulated I/O and which the vDSO cannot use: each
    # clock_gettime becomes a syscall (~3x dearer; pytest and the tests read clocks all
    # the time). QEMU's TSC comes from the host's clock, the same for every vCPU.
    tuned = "" if accel == "kvm" else "tsc=reliable"
    cmdline = initramfs.cmdline("ttyS0", share, out, guest.kept(), f"{tuned} {append}")
    argv = machine_argv(qemu, image, initrd, cmdline, cpus, memory_mb)
    if accel == "kvm":
        argv += ["-accel", "kvm", "-cpu", "host"]
    else:
        # "max" (AVX and more, emulated) ran the guest's Python ~1.5x slower than qemu64;
        # protection keys are one feature more, emulated, so the pkey_* tests' PKU side
        # runs in the guest (a host without PKU runs the other side).
        argv += ["-accel", "tcg,thread=multi", "-cpu", "qemu64,+pku"]
    if share == "9p":
        argv += ninep_shares(Path("/"), out)
    return argv


def machine_argv(
    qemu: str, image: Path, initrd: Path, cmdline: list[str], smp: int, memory_mb: int
) -> list[str]:
    """QEMU with no default devices, the serial console on stdio, and the kernel and
    initramfs booted with `cmdline`; the caller adds CPU, acceleration and shares."""
    return [
        qemu,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-smp",
        str(smp),
        "-m",
        f"{memory_mb}M",
        "-kernel",
        str(image),
        "-initrd",
        str(initrd),
        "-append",
        " ".join(cmdline),
    ]


def ninep_shares(root: Path, out: Path) -> list[str]:
    """virtio-9p devices for the init's two shares: `root` read-only as hostroot (its
    submounts seen, multidevs=remap), `out` writable as results."""
    return [
        "-fsdev",
        f"local,id=hostroot,path={root},security_model=none,readonly=on,multidevs=remap",
        "-device",
        "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-fsdev",
        f"local,id=results,path={out},security_model=none",
        "-device",
        "virtio-9p-pci,fsdev=results,mount_tag=results",
    ]


def start_virtiofsd(
    group: ProcessGroup, tmp: Path, out: Path, memory_mb: int, confined: bool = True
) -> list[str]:
    """One daemon per share, in QEMU's process group; QEMU's arguments for them. Each
    gets its listening socket made here (--fd): the daemon then writes nothing but its
    share (no socket, no pid file in /run/virtiofsd), and `confined` runs it where
    every host file system but that share is read-only (syscalls.targets.readonly)."""
    argv = [
        "-object",
        f"memory-backend-memfd,id=mem,size={memory_mb}M,share=on",
        "-numa",
        "node,memdev=mem",
    ]
    for tag, source, cache in (("hostroot", Path("/"), "always"), ("results", out, "none")):
        path = tmp / f"{tag}.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(path))
            listener.listen(1)
            daemon = [
                str(VIRTIOFSD),
                f"--fd={listener.fileno()}",
                "-o",
                f"source={source}",
                "-o",
                f"cache={cache}",
                "-o",
                "sandbox=chroot",
                "-o",
                "log_level=err",
            ]
            if confined:
                daemon = readonly.command(daemon, writable=[out] if tag == "results" else [])
            with (out / "virtiofsd.log").open("ab") as log:  # its complaints, off the terminal
                group.start(
                    daemon, stdin=subprocess.DEVNULL, stderr=log, pass_fds=[listener.fileno()]
                )
        # The daemon holds the only listening socket now: if it dies, QEMU's connection
        # is refused or reset and QEMU exits (with the reason in console.log).
        argv += [
            "-chardev",
            f"socket,id={tag},path={path}",
            "-device",
            f"vhost-user-fs-pci,chardev={tag},tag={tag}",
        ]
    return argv


def confine(share: str) -> bool:
    """Whether QEMU and virtiofsd run confined (syscalls.targets.readonly). Where that
    cannot be done here, 9p still holds the root read-only in QEMU's own server
    (readonly=on), so the run goes on, saying so; virtiofsd has no such mode: refused."""
    why = readonly.available()
    if why is None:
        return True
    if share == "9p":
        print(
            f"syscalls: vm: {why}; the host root stays read-only through QEMU's 9p server "
            "(readonly=on) alone",
            file=sys.stderr,
        )
        return False
    raise TargetUnavailable(f"{why}: virtiofsd would serve the host root writable")


def choose_share(kernel: vm_kernel.KernelImage) -> str:
    """9p where the kernel has it (no daemon, works without root), virtiofs otherwise."""
    shares = kernel.shares()
    virtiofs_ok = os.geteuid() == 0 and VIRTIOFSD.exists()
    if "9p" in shares:
        return "9p"
    if "virtiofs" in shares:
        if not virtiofs_ok:
            raise TargetUnavailable(
                f"{kernel.release} shares files only over virtiofs, which needs root and "
                f"{VIRTIOFSD} (qemu-system-common)"
            )
        return "virtiofs"
    raise TargetUnavailable(
        f"{kernel.release} has neither 9p (CONFIG_NET_9P_VIRTIO, CONFIG_9P_FS) nor virtiofs "
        "(CONFIG_VIRTIO_FS), with CONFIG_VIRTIO_PCI: it cannot see the host's root"
    )


def reached_init(out: Path) -> bool:
    return INIT_STARTED in (results.read_guest(out / results.CONSOLE) or b"")


def kvm_state() -> Path:
    return initramfs.cache_dir() / "kvm-failed"


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def kvm_worth_trying() -> bool:
    """/dev/kvm usable, and no KVM guest has failed to start since the host booted."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        return kvm_state().read_text().strip() != boot_id()
    except OSError:
        return True


def remember_kvm_failure() -> None:
    try:
        kvm_state().parent.mkdir(parents=True, exist_ok=True)
        kvm_state().write_text(boot_id() + "\n")
    except OSError:
        pass


# Kernel log lines worth showing on the terminal; console.log keeps every line.
KERNEL_LINE = re.compile(rb"^\[\s*\d+\.\d+\] ")
TROUBLE = re.compile(
    rb"panic|Oops|BUG|WARNING|Call Trace|RIP:|segfault|Out of memory|lockup|blocked for more"
    rb"|Killed process|end trace|Unable to|not syncing|No working init"
)


class ConsoleEcho:
    """The console for the terminal: guest output as it comes, kernel lines only when
    they report trouble (and everything once a panic has begun)."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.line = b""  # the current line, held back while it may be a kernel line
        self.panicked = False

    def write(self, chunk: bytes) -> int:
        for piece in chunk.splitlines(keepends=True):
            self.line += piece
            if not self.line.endswith(b"\n"):
                if not (self.line.startswith(b"[") or b"[".startswith(self.line)):
                    self.sink.write(self.line)  # pytest's progress dots, unfinished
                    self.line = b""
                continue
            line, self.line = self.line.replace(b"\r", b""), b""
            if b"Kernel panic" in line:
                self.panicked = True
            if self.panicked or not KERNEL_LINE.match(line) or TROUBLE.search(line):
                self.sink.write(line)
        return len(chunk)

    def flush(self) -> None:
        self.sink.flush()
