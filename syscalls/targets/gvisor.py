"""--target gvisor: the suite under gVisor's user-space kernel (Debian package runsc).

`runsc do` would be simplest, but it lays a throw-away writable layer over / and the
results written inside are lost. So we write an OCI bundle and use `runsc run`: the
host's / as the container's root, read-only; proc on /proc; tmpfs on /tmp, /run and
/dev/shm; the results directory bind-mounted read-write at its own path; root with all
capabilities (the namespace and privilege tests need them, as on the host). Platform
ptrace (kvm hangs at start-up on these machines, TARGETS-NOTES.md); --network=none,
which still gives the sandbox a loopback interface that is up, so the suite's
127.0.0.1 tests run. runsc needs root here (its --rootless mode is not used).

The sandbox process leaves runsc's process group (setsid); the process group's
subreaper catches it, and `runsc delete --force` clears the container's state.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from syscalls.targets import Options, TargetUnavailable, results
from syscalls.targets.guest import Limits, bytecode_job, kept, launch, write_script
from syscalls.targets.procgroup import ProcessGroup

NAME = "gvisor"
BINARY = "runsc"
TIME_SCALE = 3.0  # a syscall costs 30-60x native inside the sandbox
TEST_TIMEOUT = 300.0
BOOT_LIMIT = 60.0
TIME_LIMIT = 3600.0

# Every capability of linux/capability.h up to CAP_AUDIT_READ (37): this runsc rejects
# the newer CAP_PERFMON, CAP_BPF and CAP_CHECKPOINT_RESTORE ("unknown capability").
CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
]  # fmt: skip


def config(script: Path, out: Path) -> dict[str, Any]:
    """The OCI runtime spec (config.json) of the container that runs guest.sh."""
    caps = {k: CAPABILITIES for k in ("bounding", "effective", "permitted", "inheritable")}

    def tmpfs(path: str, mode: str) -> dict[str, Any]:
        return {"destination": path, "type": "tmpfs", "source": "tmpfs", "options": [mode]}

    def bind(path: Path, mode: str) -> dict[str, Any]:
        opts = ["rbind", mode]
        return {"destination": str(path), "type": "bind", "source": str(path), "options": opts}

    return {
        "ociVersion": "1.0.0",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/sh", str(script)],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": caps,
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}],
        },
        "root": {"path": "/", "readonly": True},
        "hostname": "syscalls-gvisor",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            tmpfs("/dev/shm", "mode=1777"),
            tmpfs("/tmp", "mode=1777"),
            tmpfs("/run", "mode=755"),
            # After the tmpfs: a checkout under /tmp (read-only), then the results.
            *[bind(path, "ro") for path in kept()],
            bind(out, "rw"),
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        },
    }


def run(opts: Options) -> int:
    runsc = shutil.which(BINARY)
    if runsc is None:
        raise TargetUnavailable(f"{BINARY} not found (Debian package runsc)")
    if os.geteuid() != 0:
        raise TargetUnavailable("runsc needs root to create its sandbox (run as root)")
    results.clear(opts.out)
    scale = opts.time_scale or TIME_SCALE
    job = bytecode_job(opts, NAME)
    script = write_script(opts, NAME, TEST_TIMEOUT, scale, job=job)
    limits = Limits(boot=BOOT_LIMIT, test=TEST_TIMEOUT + 60, total=opts.time_limit or TIME_LIMIT)
    with tempfile.TemporaryDirectory(prefix="syscalls-gvisor-") as tmp:
        bundle, state = Path(tmp) / "bundle", Path(tmp) / "state"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(config(script, opts.out), indent=1))
        container = f"syscalls-{os.getpid()}"
        common = [runsc, "--network=none", "--platform=ptrace", f"--root={state}"]
        try:
            argv = [*common, "run", "--bundle", str(bundle), container]
            return launch(opts, NAME, argv, limits, job=job)
        finally:
            # A container killed mid-run leaves its state behind: remove it.
            with ProcessGroup() as group:
                proc = group.start(
                    [*common, "delete", "--force", container],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                group.wait_all(10)
                proc.poll()
