"""execve(2): replacing the process image, and the errors that leave it untouched.

Successful execs run /bin/true, /bin/sh and /bin/grep, which every Debian-like root
file system has; each runs in a raw-forked child. Failing execs return to the caller,
but run inside in_child all the same, so a kernel that wrongly succeeded replaces a
throwaway process, not pytest. Scripts in tmp need a file system mounted with exec.
"""

import os
import signal
from pathlib import Path

import pytest

from syscalls import forking
from syscalls.child import TIME_SCALE
from syscalls.forking import Argv
from syscalls.kernel import Kernel

EXEC_FAILED = 99  # exit code of a child whose execve returned
MAX_ARG_STRLEN = 32 * 4096  # include/uapi/linux/binfmts.h: 32 pages of 4 KiB


def _exec_in_fork(kernel: Kernel, path: str, argv: list[bytes], env=(), setup=None) -> int:
    """Fork, run setup() in the child, execve; the child's raw wait status."""
    args, envp = Argv(kernel, argv), Argv(kernel, list(env))

    def child() -> int:
        if setup:
            setup()
        kernel.execve(path, args.array, envp.array)
        return EXEC_FAILED

    return forking.wait(kernel, forking.fork(kernel, child))


def _exec_output(kernel: Kernel, path: str, argv: list[bytes], env=(), setup=None) -> bytes:
    """Run the program with its stdout on a pipe; what it printed."""
    r, w = os.pipe()

    def redirect() -> None:
        os.dup2(w, 1)
        if setup:
            setup()

    status = _exec_in_fork(kernel, path, argv, env, redirect)
    os.close(w)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) != EXEC_FAILED, hex(status)
    with os.fdopen(r, "rb") as f:
        return f.read()


def _exec_errno(kernel: Kernel, path, argv: list[bytes] | None = None) -> str:
    args = Argv(kernel, argv if argv is not None else [b"x"])
    return kernel.execve(path, args.array, Argv(kernel, []).array).outcome


@pytest.fixture
def exec_tmp(tmp: Path) -> Path:
    if os.statvfs(tmp).f_flag & os.ST_NOEXEC:
        pytest.skip(f"{tmp} is on a file system mounted noexec")
    return tmp


@pytest.mark.smoke
def test_execve_runs_the_program_whose_exit_code_reaches_parent(kernel: Kernel, in_child) -> None:
    status = in_child(lambda: _exec_in_fork(kernel, "/bin/true", [b"true"]))
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0


@pytest.mark.smoke
def test_execve_passes_argv_and_envp(kernel: Kernel, in_child) -> None:
    script = b'printf "%s|%s|%s" "$0" "$1" "$SYSCALLS_V"'
    argv = [b"sh", b"-c", script, b"zero", b"one"]
    out = in_child(lambda: _exec_output(kernel, "/bin/sh", argv, [b"SYSCALLS_V=env-value"]))
    assert out == b"zero|one|env-value"


@pytest.mark.smoke
def test_execve_closes_cloexec_fds_and_keeps_others(kernel: Kernel, in_child) -> None:
    probe = b"for fd in 7 8; do if (true >&$fd) 2>/dev/null; then printf o; else printf c; fi; done"

    def setup() -> None:
        fd = os.open("/dev/null", os.O_WRONLY)
        kernel.dup3(fd, 7, kernel.O_CLOEXEC).unwrap()
        kernel.dup3(fd, 8, 0).unwrap()

    out = in_child(lambda: _exec_output(kernel, "/bin/sh", [b"sh", b"-c", probe], setup=setup))
    assert out == b"co"  # 7 (close-on-exec) closed, 8 still open


@pytest.mark.os("linux")
@pytest.mark.smoke
def test_execve_keeps_ignored_and_blocked_signals_but_resets_handlers(
    kernel: Kernel, in_child
) -> None:
    def setup() -> None:
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        signal.signal(signal.SIGUSR2, lambda *_: None)
        signal.pthread_sigmask(signal.SIG_SETMASK, {signal.SIGHUP})

    argv = [b"grep", b"^Sig[BCI]", b"/proc/self/status"]
    out = in_child(lambda: _exec_output(kernel, "/bin/grep", argv, setup=setup))
    masks = {k: int(v, 16) for k, v in (ln.split(b":\t") for ln in out.splitlines())}
    if not {b"SigIgn", b"SigCgt", b"SigBlk"} <= set(masks):
        pytest.skip(f"/proc/PID/status has only {sorted(masks)} of its signal masks here")
    bit = lambda sig: 1 << (sig - 1)  # noqa: E731
    assert masks[b"SigIgn"] & bit(signal.SIGUSR1)
    assert not masks[b"SigIgn"] & bit(signal.SIGUSR2)
    assert not masks[b"SigCgt"] & bit(signal.SIGUSR2)
    assert masks[b"SigBlk"] & bit(signal.SIGHUP)


@pytest.mark.smoke
def test_execve_runs_interpreter_named_by_shebang(kernel: Kernel, exec_tmp, in_child) -> None:
    script = exec_tmp / "script"
    script.write_bytes(b"#!/bin/sh\nexit 6\n")
    script.chmod(0o755)
    status = in_child(lambda: _exec_in_fork(kernel, str(script), [b"script"]))
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 6


@pytest.mark.smoke
def test_execve_missing_file_is_enoent(kernel: Kernel, tmp: Path, in_child) -> None:
    assert in_child(lambda: _exec_errno(kernel, tmp / "absent")) == "ENOENT"


@pytest.mark.smoke
def test_execve_file_without_execute_bits_is_eacces(kernel: Kernel, exec_tmp, in_child) -> None:
    """Even root needs at least one execute bit set."""
    script = exec_tmp / "script"
    script.write_bytes(b"#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    assert in_child(lambda: _exec_errno(kernel, script)) == "EACCES"


@pytest.mark.smoke
def test_execve_directory_is_eacces(kernel: Kernel, tmp: Path, in_child) -> None:
    assert in_child(lambda: _exec_errno(kernel, tmp)) == "EACCES"


@pytest.mark.smoke
def test_execve_unrecognised_format_is_enoexec(kernel: Kernel, exec_tmp, in_child) -> None:
    blob = exec_tmp / "blob"
    blob.write_bytes(b"\x00\x01\x02 not a program\n" * 8)
    blob.chmod(0o755)
    assert in_child(lambda: _exec_errno(kernel, blob)) == "ENOEXEC"


@pytest.mark.smoke
def test_execve_path_through_a_file_is_enotdir(kernel: Kernel, tmp: Path, in_child) -> None:
    (tmp / "f").write_bytes(b"")
    assert in_child(lambda: _exec_errno(kernel, tmp / "f" / "x")) == "ENOTDIR"


@pytest.mark.os("linux")
@pytest.mark.smoke
def test_execve_argument_longer_than_max_arg_strlen_is_e2big(kernel: Kernel, in_child) -> None:
    argv = [b"true", b"x" * MAX_ARG_STRLEN]  # with its NUL, one byte over
    assert in_child(lambda: _exec_errno(kernel, "/bin/true", argv)) == "E2BIG"


# -- what the new image keeps and loses (execve(2)'s list) -----------------------------


@pytest.mark.os("linux")
def test_execve_keeps_the_pending_signals(kernel: Kernel, in_child) -> None:
    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        os.kill(os.getpid(), signal.SIGUSR1)  # pending for the process, blocked

    argv = [b"grep", b"^ShdPnd", b"/proc/self/status"]
    out = in_child(lambda: _exec_output(kernel, "/bin/grep", argv, setup=setup))
    if not out:
        pytest.skip("/proc/PID/status has no ShdPnd line here")
    assert int(out.split()[1], 16) & 1 << (signal.SIGUSR1 - 1)


@pytest.mark.os("linux")
def test_execve_deletes_the_posix_timers(kernel: Kernel, in_child) -> None:
    if not os.path.exists("/proc/self/timers"):
        pytest.skip("no /proc/PID/timers (CONFIG_CHECKPOINT_RESTORE): no way to list them")

    def setup() -> None:
        ev = kernel.new("struct sigevent *")
        ev.sigev_notify = kernel.SIGEV_NONE
        kernel.timer_create(kernel.CLOCK_MONOTONIC, ev, kernel.new("int *")).unwrap()
        with open("/proc/self/timers") as f:  # there before the exec
            assert "ID:" in f.read()

    argv = [b"grep", b"-c", b"^ID:", b"/proc/self/timers"]
    out = in_child(lambda: _exec_output(kernel, "/bin/grep", argv, setup=setup))
    assert out.strip() == b"0"  # none left in the new image


@pytest.mark.os("linux")
@pytest.mark.waits
def test_execve_keeps_the_interval_timers(kernel: Kernel, in_child) -> None:
    """ITIMER_REAL armed before the exec fires in the new image: its SIGALRM (default
    action: terminate) ends the shell that said it had started, long before its sleep."""
    script = b"echo started; exec sleep 30"

    def setup() -> None:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # pytest's own handler, if any
        signal.setitimer(signal.ITIMER_REAL, 0.3 * TIME_SCALE)  # after the exec, surely

    def run() -> tuple[int, bytes]:
        r, w = os.pipe()

        def redirect() -> None:
            os.dup2(w, 1)
            setup()

        status = _exec_in_fork(kernel, "/bin/sh", [b"sh", b"-c", script], setup=redirect)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            return status, f.read()

    status, out = in_child(run, 30)
    assert out == b"started\n"  # the new image ran
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM, hex(status)
