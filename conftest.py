"""pytest glue: options, fixtures, markers, and the semantics profile.

Options:  --platform OS/ARCH or TABLE.toml (default: the running kernel's)
          --profile PATH (default: beside --junitxml, as <name>.profile.json)
          --target NAME (recorded in the profile; set by `syscalls run --target`)
          --rump-dir DIR (--target rump: where librump*.so are; the suite then calls the
          NetBSD rump kernel in-process, with the netbsd/amd64 table)
          --smoke (syscalls.collection: -m smoke's tests, the others never collected)
Fixtures: kernel (the Kernel, its calls recorded), tmp (a private directory, removed
          afterwards; unless $TMPDIR is set, on a tmpfs where one is writable:
          /dev/shm; disk_tmp: one in $TMPDIR or /tmp, for subjects that need a disk
          file system), observe(key, value),
          in_child(fn, timeout) (fn in a forked child with a time limit).
Markers:  root, os(*names), arch(*names, reason=...), min_kernel(version),
          requires(*features): skips that say why; smoke: the smoke selection
          (`syscalls run --smoke`); disposable: the test changes the whole machine
          (the clock, swap, modules, accounting): it runs only in a disposable VM
          target (--target vm).
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syscalls import as_user, child
from syscalls.abi import Platform, PlatformError, host_os_arch
from syscalls.expect import at_least
from syscalls.kernel import TARGET_ABSENT_FEATURES, Kernel, Unsupported
from syscalls.kmsg import KernelLogCheck
from syscalls.profile import PROPERTY, Collector, Profile, Recorder, this_machine
from syscalls.removal import remove_tree
from syscalls.tempdirs import Kept, RunDirs, run_dirs
from syscalls.userfiles import OutputError, check_output

# The runner's guarantees: per-test watchdog, leftover processes, crashes recorded,
# interrupted runs marked incomplete (syscalls/runner/); collecting only what runs.
pytest_plugins = ["syscalls.runner.plugin", "syscalls.collection"]

_KERNEL_KEY = pytest.StashKey[Kernel]()
_RECORDER_KEY = pytest.StashKey[Recorder]()
_AS_USER_KEY = pytest.StashKey[bool]()  # an as_user test in a root run (syscalls.as_user)
_TMP_BASE_KEY = pytest.StashKey[RunDirs]()
_TMP_KEPT_KEY = pytest.StashKey[Kept]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("syscalls")
    group.addoption(
        "--platform",
        default=None,
        help="binding table: OS/ARCH (e.g. linux/x86_64) or a .toml file "
        "(default: the running kernel's)",
    )
    group.addoption(
        "--profile",
        default=None,
        help="write the semantics profile (JSON) here "
        "(default: beside --junitxml as NAME.profile.json)",
    )
    group.addoption(
        "--target",
        default=os.environ.get("SYSCALLS_TARGET", "host"),
        help="name of the target recorded in the profile",
    )
    group.addoption(
        "--rump-dir",
        default=None,
        help="--target rump: directory with librumpuser.so, librump.so, ... "
        "(default: $SYSCALLS_RUMP_DIR, else ../shared/rump/lib beside the checkout)",
    )


def pytest_configure(config: pytest.Config) -> None:
    rump = config.getoption("target") == "rump"
    try:  # a bad table (its C declarations too: Kernel compiles them) is a usage error
        platform = Platform.load(config.getoption("platform") or (RUMP_PLATFORM if rump else None))
        host = "/".join(host_os_arch())
        if rump:
            k = _rump_kernel(platform, config.getoption("rump_dir"), host)
        elif platform.name != host and not config.option.collectonly:
            # Another OS's or arch's numbers would call the wrong syscalls on this kernel.
            raise pytest.UsageError(
                f"the {platform.name} table cannot drive this {host} kernel "
                "(use it inside a target of that kind, or with --collect-only)"
            )
        else:
            k = Kernel(platform)
    except PlatformError as e:
        raise pytest.UsageError(str(e)) from None
    k.target = config.getoption("target")  # what ENOSYS means depends on it (enosys.py)
    k.absent_features = {**k.absent_features, **TARGET_ABSENT_FEATURES.get(k.target, {})}
    config.stash[_KERNEL_KEY] = k
    dirs = run_dirs()  # looked up once: tmp is made per test
    config.add_cleanup(dirs.remove)
    config.stash[_TMP_BASE_KEY] = dirs
    config.stash[_TMP_KEPT_KEY] = Kept(dirs)
    path = _profile_path(config)
    if not hasattr(config, "workerinput"):  # the controller writes them, at the end
        _check_outputs(config, path)
    if path is not None and not hasattr(config, "workerinput"):  # not in xdist workers
        profile = Profile(
            platform=platform.name,
            kernel=k.release(),
            target=config.getoption("target"),
            meta=this_machine(),
        )
        config.pluginmanager.register(Collector(profile, path), "syscalls-profile")
    if not hasattr(config, "workerinput") and not config.option.collectonly and not rump:
        # The kernel under test's own log (a rump kernel's host is not under test)
        config.pluginmanager.register(KernelLogCheck(config), "syscalls-kernel-log")


RUMP_PLATFORM = "netbsd/amd64"
# Targets whose machine is thrown away after the run: @pytest.mark.disposable tests run
# there for real (setting the clock, swapping, loading modules) and nowhere else.
DISPOSABLE = ("vm",)


def _rump_kernel(platform: Platform, rump_dir: str | None, host: str) -> Kernel:
    from syscalls.targets.rump import RumpKernel, RumpUnavailable

    if host != "linux/x86_64" or platform.name != RUMP_PLATFORM:
        raise pytest.UsageError(
            f"--target rump runs the {RUMP_PLATFORM} table on an x86_64 host "
            f"(this is {host}, the table {platform.name})"
        )
    try:
        return RumpKernel(platform, rump_dir)
    except RumpUnavailable as e:
        message = str(e)  # find_libraries' own messages already begin with "--target rump"
        raise pytest.UsageError(
            message if message.startswith("--") else f"--target rump: {message}"
        ) from None


@pytest.fixture(scope="session")
def platform(pytestconfig: pytest.Config) -> Platform:
    return pytestconfig.stash[_KERNEL_KEY].platform


@pytest.fixture
def kernel(request: pytest.FixtureRequest) -> Iterator[Kernel]:
    """The bindings; every call the test makes is recorded in its observations."""
    k = request.config.stash[_KERNEL_KEY]
    recorder = request.node.stash[_RECORDER_KEY]
    k.observers.append(recorder.call)
    try:
        yield k
    finally:
        k.observers.remove(recorder.call)


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Callable[[str, Any], None]:
    """observe(key, value): record a value the kernel answered, for cross-kernel diffs."""
    return request.node.stash[_RECORDER_KEY].value


@pytest.fixture
def tmp(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh directory of this test's own, removed afterwards whatever it holds: in
    $TMPDIR if set, else on a tmpfs this user can write (syscalls.tempdirs), else /tmp,
    inside a directory of this process's own in the run's there (removed at the end of
    the run; syscalls.tempdirs.Kept)."""
    k = request.config.stash[_KERNEL_KEY]
    if k.in_process:  # a rump kernel: the directory is in its own file system
        yield k.private_directory()
        return
    yield from _private_directory(
        request.config.stash[_TMP_KEPT_KEY], request.config.stash[_TMP_BASE_KEY].fast
    )


@pytest.fixture
def disk_tmp(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Like tmp, but on a disk-backed file system ($TMPDIR's), for tests whose subject
    needs one (O_DIRECT, file handles, fanotify ...): `tmp` may be a tmpfs."""
    if request.config.stash[_KERNEL_KEY].in_process:
        pytest.skip("the rump kernel's only writable file system is its tmpfs")
    yield from _private_directory(
        request.config.stash[_TMP_KEPT_KEY], request.config.stash[_TMP_BASE_KEY].disk
    )


def _private_directory(kept: Kept, base: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(dir=kept.directory(base)))
    try:
        yield path
    finally:
        remove_tree(path)


@pytest.fixture
def in_child(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """in_child(fn, timeout=10): fn() in a forked child, its result or failure returned."""
    sink = request.node.stash[_RECORDER_KEY].entries

    if request.config.stash[_KERNEL_KEY].in_process:
        pytest.skip("the rump kernel runs inside this process: a forked child is not its own")

    def run(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        return child.run(fn, timeout, sink, passthrough=(Unsupported, pytest.skip.Exception))

    return run


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """The collected suite lives as long as the run: out of the cyclic GC's way. Its full
    collections would walk every item again and again (4% of a run's CPU), and one in a
    forked child writes to every object's header, a copy-on-write fault per page."""
    gc.freeze()


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_RECORDER_KEY] = Recorder()
    k = item.config.stash[_KERNEL_KEY]
    marks: dict[str, list[pytest.Mark]] = {}
    for mark in item.iter_markers():  # one walk up the nodes for all, closest first
        marks.setdefault(mark.name, []).append(mark)
    if "root" in marks and os.geteuid() != 0:
        pytest.skip("needs root")
    item.stash[_AS_USER_KEY] = as_user.MARK in marks and os.geteuid() == 0
    if item.stash[_AS_USER_KEY] and k.in_process:
        pytest.skip(
            f"{as_user.reason(item)}: a user's run tests it (the rump kernel runs in this "
            "process: no child of it can become a user)"
        )
    if "disposable" in marks and item.config.getoption("target") not in DISPOSABLE:
        pytest.skip("changes the whole machine: runs only in a disposable VM (syscalls boot)")
    area = item.nodeid.split("/")[1] if item.nodeid.startswith("suites/") else ""
    if area in k.absent_areas:
        pytest.skip(k.absent_areas[area])
    for mark in marks.get("requires", ()):
        for feature in mark.args:
            if feature in k.absent_features:
                pytest.skip(k.absent_features[feature])
    for mark in marks.get("os", ()):
        if k.platform.os not in mark.args:
            pytest.skip(f"only on {', '.join(mark.args)} (this is {k.platform.os})")
    for mark in marks.get("arch", ()):
        if k.platform.arch not in mark.args:
            why = f"{mark.kwargs['reason']}: " if "reason" in mark.kwargs else ""
            pytest.skip(f"{why}only on {', '.join(mark.args)} (this is {k.platform.arch})")
    # gVisor reports Linux 4.4.0 whatever it implements: there the call is tried, and a
    # syscall it lacks skips with ENOSYS instead.
    versioned = item.config.getoption("target") != "gvisor"
    for mark in marks.get("min_kernel", ()):
        release = os.uname().release
        if versioned and k.platform.os == "linux" and not at_least(release, mark.args[0]):
            pytest.skip(f"needs Linux >= {mark.args[0]} (this is {release})")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """An `as_user` test in a root run: its body in a child that has become nobody."""
    if not pyfuncitem.stash.get(_AS_USER_KEY, False):
        return None
    entries = pyfuncitem.stash[_RECORDER_KEY].entries
    as_user.call(pyfuncitem, entries, (Unsupported, pytest.skip.Exception))
    return True


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """The report pytest's own hook would make (runner.py's, which this one, registered
    later, comes before), then ours: a plain hook, since a hook wrapper costs pluggy about
    33,000 instructions, three times a test. Hook wrappers (skipping's xfail, tmp_path's
    retention) and tryfirst hooks (unittest's SkipTest) still run around and before it."""
    report = pytest.TestReport.from_item_and_call(item, call)
    if call.excinfo is not None and call.excinfo.errisinstance(Unsupported):
        # Not in the table, or ENOSYS: a skip that names the syscall, not a failure.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {call.excinfo.value}")
    if report.when == "teardown":
        recorder = item.stash.get(_RECORDER_KEY, None)
        if recorder is not None:
            report.user_properties.append((PROPERTY, json.dumps(recorder.kept())))
        changed = item.config.stash[_TMP_KEPT_KEY].check()
        if changed is not None:  # after every fixture's teardown: tmp's own included
            report.outcome = "failed"
            report.longrepr = (
                changed if report.longrepr is None else f"{report.longrepr}\n\n{changed}"
            )
    return report


def _check_outputs(config: pytest.Config, profile: Path | None) -> None:
    """JUnit XML and the profile are written when the run ends: a path where they cannot
    be is refused before any test runs (a traceback after the whole suite, before)."""
    for option, out in (("--junitxml", config.getoption("xmlpath", None)), ("--profile", profile)):
        if out:
            try:
                check_output(Path(out), parents=True)  # both writers make the directories
            except OutputError as e:
                raise pytest.UsageError(f"{option}: {e}") from None


def _profile_path(config: pytest.Config) -> Path | None:
    explicit = config.getoption("profile")
    if explicit:
        return Path(explicit)
    junit = config.getoption("xmlpath", None)
    if junit:
        return Path(junit).with_name(Path(junit).stem + ".profile.json")
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Per-area counts for the suites: where a kernel fails, at a glance."""
    areas: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, []):
            parts = getattr(report, "nodeid", "").split("/")
            if len(parts) > 2 and parts[0] == "suites" and report.when in ("call", "setup"):
                counts = areas.setdefault(parts[1], {})
                counts[outcome] = counts.get(outcome, 0) + 1
    if not areas:
        return
    terminalreporter.section("syscalls: results by area")
    for area, counts in sorted(areas.items()):
        text = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        terminalreporter.write_line(f"{area:<10} {text}")


def pytest_report_header(config: pytest.Config) -> str:
    k = config.stash[_KERNEL_KEY]
    u = os.uname()
    return (
        f"syscalls: platform {k.platform.name} ({len(k.platform.syscalls)} syscalls), "
        f"kernel {u.sysname} {u.release}, target {config.getoption('target')}, "
        f"uid {os.getuid()}"
    )
