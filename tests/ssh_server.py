"""A throw-away OpenSSH server on a loopback port, for the ssh target's tests.

It runs as an unprivileged account and changes nothing on the host:
- as root, sshd runs in new mount and PID namespaces, where /etc/passwd is a bind-mounted
  copy with one more line -- `syscalls`, uid 65534, shell /bin/sh, home in the server's
  directory -- as uid 65534 (setpriv). nobody's own line is not used: nss-systemd
  reports nobody's account as locked, and sshd refuses locked accounts;
- as another user, the same in a user namespace (unshare -r), with sshd in a nested
  one as uid 65534, which is the calling user outside.
sshd not running as root lets only its own user in. A fresh host key and client key;
known_hosts holds the host key, authorized_keys the client key; the "remote" sees
SetEnv's variables (PATH, TMPDIR, ...) and, with `force`, runs that command instead.

Every process of the "remote" lives in the server's PID namespace: `processes()` lists
them; `kill_connections()` kills the sshd processes serving connections (not the
listener).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
# PID 1 of the server's namespace, as the caller (root in CI), as on a real machine: the
# suite's "another user's process" tests take PID 1 for one, and a PID 1 of the remote
# user's own could be stopped by their ptrace tests. It mounts the passwd copy, starts
# sshd as the remote user, reaps every orphan, and ends with sshd.
INIT = """
import os, subprocess, sys
subprocess.run(["mount", "--bind", sys.argv[1], "/etc/passwd"], check=True)
sshd = subprocess.Popen(sys.argv[2:])
while os.wait()[0] != sshd.pid:
    pass
"""
UID = 65534
USER = "syscalls"
CLIENT_ENV = {"SYSCALLS_SSH": "ssh -F /dev/null"}  # not the running user's ssh config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ns(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/pid")


def _stat(pid: int) -> tuple[str, int]:
    """(comm, parent pid) of a process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    return comm, int(stat.rpartition(")")[2].split()[1])


class SshServer:
    def __init__(
        self, env: dict[str, str], force: str | None = None, plugins: tuple[Path, ...] = ()
    ) -> None:
        """`env`: the remote's environment (PATH ...); `plugins`: Python files its
        PYTHONPATH holds (pytest plugins for `-p NAME`)."""
        self.base = Path(tempfile.mkdtemp(prefix="syscalls-sshd-"))
        self.base.chmod(0o755)  # the server's user reads its config and keys here
        self.home, self.remote_tmp = self.base / "home", self.base / "remote-tmp"
        self.env = {"TMPDIR": str(self.remote_tmp), **env}
        if plugins:
            (self.base / "plugins").mkdir()
            for path in plugins:
                shutil.copy(path, self.base / "plugins")
            self.env["PYTHONPATH"] = str(self.base / "plugins")
        self.force = force
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.init = 0  # PID 1 of the namespace (INIT), as a host pid
        self.listener = 0  # sshd's listener, its child

    # -- what a client needs ---------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ssh://{USER}@127.0.0.1:{self.port}"

    def options(self, key: Path | None = None, known_hosts: Path | None = None) -> list[str]:
        """syscalls run's --ssh-option values: this server's keys, nothing of the user's."""
        options = [
            f"IdentityFile={key or self.base / 'client'}",
            "IdentitiesOnly=yes",
            "IdentityAgent=none",
            f"UserKnownHostsFile={known_hosts or self.base / 'known_hosts'}",
            "GlobalKnownHostsFile=/dev/null",
            "StrictHostKeyChecking=yes",
        ]
        return [a for o in options for a in ("--ssh-option", o)]

    # -- life ------------------------------------------------------------------------
    def start(self) -> SshServer:
        for name in ("home", "remote-tmp"):
            (self.base / name).mkdir()
        for key in ("hostkey", "client"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", self.base / key],
                check=True,
            )
        shutil.copy(self.base / "client.pub", self.base / "authorized_keys")
        (self.base / "authorized_keys").chmod(0o644)
        passwd = Path("/etc/passwd").read_text()
        line = f"{USER}:x:{UID}:{UID}:syscalls ssh target test:{self.home}:/bin/sh\n"
        (self.base / "passwd").write_text(passwd.rstrip("\n") + "\n" + line)
        if os.geteuid() == 0:
            for path in (self.home, self.remote_tmp, self.base / "hostkey"):
                os.chown(path, UID, UID)
        for _ in range(3):  # another process may take the free port first
            self.port = _free_port()
            if self._launch():
                return self
        raise RuntimeError(f"sshd did not start: {self.log()[-2000:]}")

    def _launch(self) -> bool:
        config = self.base / "sshd_config"
        settings = {
            "Port": str(self.port),
            "ListenAddress": "127.0.0.1",
            "HostKey": str(self.base / "hostkey"),
            "PidFile": "none",
            "UsePAM": "no",
            "StrictModes": "no",
            "AuthorizedKeysFile": str(self.base / "authorized_keys"),
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "AllowTcpForwarding": "no",
            "X11Forwarding": "no",
            "KexAlgorithms": "curve25519-sha256",  # sntrup761's costs 0.5 s a login here
            "SetEnv": " ".join(f"{k}={v}" for k, v in self.env.items()),
        }
        if self.force:
            settings["ForceCommand"] = self.force
        config.write_text("".join(f"{k} {v}\n" for k, v in settings.items()))
        become = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "--"]
        namespaces = ["--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private"]
        if os.geteuid() != 0:
            namespaces = ["--user", "--map-root-user", *namespaces]
            become = ["unshare", "--user", f"--map-user={UID}", f"--map-group={UID}", "--"]
        init = [sys.executable, "-c", INIT, self.base / "passwd", *become, SSHD]
        log = (self.base / "sshd.log").open("wb")
        self.proc = subprocess.Popen(
            ["unshare", *namespaces, "--", *init, "-D", "-e", "-f", config],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = self.log()
            if "Server listening" in text:
                self.init = self._child_of(self.proc.pid)
                self.listener = self._child_of(self.init)
                host_key = (self.base / "hostkey.pub").read_text().split()[:2]
                known = f"[127.0.0.1]:{self.port} {' '.join(host_key)}\n"
                (self.base / "known_hosts").write_text(known)
                return True
            if self.proc.poll() is not None or "Address already in use" in text:
                break
            time.sleep(0.05)
        self._kill()
        return False

    def _child_of(self, pid: int) -> int:
        for _ in range(100):
            for name in filter(str.isdigit, os.listdir("/proc")):
                with contextlib.suppress(OSError, ValueError):
                    if _stat(int(name))[1] == pid:
                        return int(name)
            time.sleep(0.05)
        raise RuntimeError("unshare has no child")

    def log(self) -> str:
        return (self.base / "sshd.log").read_text(errors="replace")

    def _kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, RuntimeError):
            os.kill(self.init or self._child_of(self.proc.pid), signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None
        self.init = self.listener = 0

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.base, ignore_errors=True)

    # -- what the "remote" holds ---------------------------------------------------------
    def processes(self) -> dict[int, str]:
        """pid -> command line of every process on the "remote" but its init and sshd's
        listener."""
        found = {}
        ns = _ns(self.init)
        for name in filter(str.isdigit, os.listdir("/proc")):
            pid = int(name)
            with contextlib.suppress(OSError):
                if pid not in (self.init, self.listener) and _ns(pid) == ns:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    found[pid] = argv.decode(errors="replace").strip() or _stat(pid)[0]
        return found

    def kill_connections(self) -> list[int]:
        """SIGKILL the sshd processes that serve connections: the connection drops."""
        killed = []
        for pid in self.processes():
            with contextlib.suppress(OSError):
                if _stat(pid)[0] == "sshd":
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        return killed

    def leftovers(self, settle: float = 5.0) -> tuple[list[str], dict[int, str]]:
        """What the remote still holds in its TMPDIR, and its processes, once they had
        `settle` seconds to go."""
        deadline = time.monotonic() + settle
        while True:
            files = sorted(p.name for p in self.remote_tmp.iterdir())
            procs = self.processes()
            if (not files and not procs) or time.monotonic() > deadline:
                return files, procs
            time.sleep(0.2)
