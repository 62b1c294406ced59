"""What syscalls makes once and keeps: the cache directory, and parsed C declarations.

cache_dir() is $XDG_CACHE_HOME/syscalls (~/.cache/syscalls): kernel packages, the VM's
initramfs, the guests' bytecode (syscalls.targets), and the declarations below.

ffi_for(cdef, packed) is `cffi.FFI()` with `cdef(cdef)` and `cdef(packed, packed=True)`
done, without parsing the C text each time. Parsing a table's declarations with
pycparser is most of a test process's start-up beyond pytest's own imports: 0.1 s on
the host, seconds in a guest under TCG, in each xdist worker too. A process that
parses them may keep what cffi's parser made of them (its declarations: cffi's model
of each type, pickled); later processes, and guests on a read-only view of the host,
give a fresh FFI that state instead of parsing. The state is written only where asked
(SYSCALLS_CACHE_WRITE=1: the targets' host-side compilation for their guests,
syscalls.targets.bytecode), so that a plain run of the suite leaves no file behind; it
is read wherever it is. The FFI is the same kind of object as
ever (it parses what else it is asked, such as an anonymous struct in ffi.new). The
state is named after a digest of the text and the versions of cffi and Python, so a
changed table is a new file; it is only read from a file that this user (or root) owns
and nobody else may write. Where the cache cannot be written or read, the text is
parsed as before: the cache costs nothing but speed.

toml_loads(data) is `tomllib.loads(data.decode())` kept the same way: a generated table
takes 20 ms to parse here, about 0.4 s in a guest under TCG, and 1 ms to unpickle.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import cffi


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "syscalls"


def ffi_state(cdef: str, packed: str = "", cache: Path | None = None) -> Path:
    """Where the parsed state of these declarations is (or would be) kept."""
    versions = f"cffi {cffi.__version__} python {sys.version_info[:2]}"
    digest = hashlib.sha256("\0".join((versions, cdef, packed)).encode()).hexdigest()
    return (cache or cache_dir()) / "cffi" / f"{digest[:32]}.pickle"


WRITE = "SYSCALLS_CACHE_WRITE"  # =1: keep parsed declarations for later processes


def ffi_for(
    cdef: str, packed: str = "", cache: Path | None = None, write: bool | None = None
) -> Any:
    """An FFI with `cdef` declared (and `packed` with packed=True): see the module doc.
    `write`: keep the parsed state (default: whether $SYSCALLS_CACHE_WRITE is 1)."""
    path = ffi_state(cdef, packed, cache)
    ffi = cffi.FFI()
    state = _read(path)
    if isinstance(state, dict) and "_declarations" in state:
        with ffi._lock:  # what FFI.cdef leaves behind, as FFI.cdef does it
            ffi._parser.__dict__.update(state)
            ffi._cdefsources += [cdef, packed] if packed else [cdef]
            ffi._cdef_version = object()
        return ffi
    ffi.cdef(cdef)
    if packed:
        ffi.cdef(packed, packed=True)
    # The parser's state but its map from pycparser's nodes (weak, used while parsing).
    if write if write is not None else os.environ.get(WRITE) == "1":
        state = {k: v for k, v in vars(ffi._parser).items() if k != "_structnode2type"}
        _write(path, state)
    return ffi


def toml_state(data: bytes, cache: Path | None = None) -> Path:
    """Where the parsed form of this TOML text is (or would be) kept."""
    digest = hashlib.sha256(f"python {sys.version_info[:2]}\0".encode() + data).hexdigest()
    return (cache or cache_dir()) / "toml" / f"{digest[:32]}.pickle"


def toml_loads(data: bytes, cache: Path | None = None, write: bool | None = None) -> Any:
    """tomllib.loads(data.decode()), or what it gave for the same bytes (module doc); its
    errors (UnicodeDecodeError, tomllib.TOMLDecodeError, ...) as tomllib raises them.
    `write` as for ffi_for."""
    path = toml_state(data, cache)
    table = _read(path)
    if isinstance(table, dict):
        return table
    import tomllib  # not even imported when the cache has it

    table = tomllib.loads(data.decode())
    if write if write is not None else os.environ.get(WRITE) == "1":
        _write(path, table)
    return table


def _read(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid not in (os.geteuid(), 0) or st.st_mode & 0o022:
                return None  # only what this user or root made, and nobody else can change
            return pickle.load(f)
    except Exception:  # missing, unreadable, cut short, another version's
        return None


def _write(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(Exception):  # read-only (a guest), full, or unpicklable
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
            tmp.chmod(0o644)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
