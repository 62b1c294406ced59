"""bpf(2): an array map (create, update, lookup, iterate, describe) and a socket-filter
program attached with SO_ATTACH_BPF, as far as the kernel lets this user.

/proc/sys/kernel/unprivileged_bpf_disabled decides for a user: 0 lets anyone create
array maps and load socket filters; 1 or 2 (Debian's default) make both EPERM without
CAP_BPF or CAP_SYS_ADMIN. Tests that need bpf skip, naming the setting, where it is
refused; the EPERM test runs where it is. union bpf_attr is spelt here per command, as
the anonymous structs linux/bpf.h puts in it (the kernel takes any size up to its own,
and more if the rest is zero); its pointers are __aligned_u64.
"""

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from syscalls.kernel import Kernel

pytestmark = [pytest.mark.os("linux"), pytest.mark.min_kernel("4.4")]

_SYSCTL = Path("/proc/sys/kernel/unprivileged_bpf_disabled")
DISABLED = int(_SYSCTL.read_text()) if _SYSCTL.exists() else 0
MAY_BPF = os.geteuid() == 0 or DISABLED == 0
needs_bpf = pytest.mark.skipif(
    not MAY_BPF, reason=f"unprivileged_bpf_disabled = {DISABLED}: bpf is for CAP_BPF only"
)


def REFUSED(test: Any) -> Any:
    """What unprivileged_bpf_disabled refuses a user (run as one: syscalls.as_user)."""
    test = pytest.mark.skipif(DISABLED == 0, reason="unprivileged_bpf_disabled = 0")(test)
    return pytest.mark.as_user("root may use bpf (CAP_BPF)")(test)


MAP_CREATE = "struct { uint32_t map_type, key_size, value_size, max_entries, map_flags; } *"
# key, value and flags are __aligned_u64: 8-aligned on i386 too, where uint64_t is not
ELEM = "struct { uint32_t map_fd, __pad; uint64_t key, value, flags; } *"
PROG_LOAD = (
    "struct { uint32_t prog_type, insn_cnt; uint64_t insns, license;"
    " uint32_t log_level, log_size; uint64_t log_buf; } *"
)
INFO = "struct { uint32_t bpf_fd, info_len; uint64_t info; } *"
MAP_INFO = "struct { uint32_t type, id, key_size, value_size, max_entries, map_flags; } *"
ENTRIES = 4


def _bpf(kernel: Kernel, cmd: int, attr: Any):
    return kernel.bpf(cmd, attr, kernel.ffi.sizeof(attr[0]))


def _map(kernel: Kernel, key_size: int = 4, value_size: int = 8, entries: int = ENTRIES):
    attr = kernel.new(MAP_CREATE, [kernel.BPF_MAP_TYPE_ARRAY, key_size, value_size, entries, 0])
    return _bpf(kernel, kernel.BPF_MAP_CREATE, attr)


@pytest.fixture
def array_map(kernel: Kernel):
    fd = _map(kernel).unwrap()
    try:
        yield fd
    finally:
        os.close(fd)


def _elem(kernel: Kernel, cmd: int, fd: int, key: int | None, value: Any, flags: int = 0):
    k = kernel.new("uint32_t *", key) if key is not None else None
    where = [kernel.address(p) if p is not None else 0 for p in (k, value)]
    attr = kernel.new(ELEM, [fd, 0, *where, flags])
    return _bpf(kernel, cmd, attr)


def _update(kernel: Kernel, fd: int, key: int, value: int, flags: int = 0):
    return _elem(
        kernel, kernel.BPF_MAP_UPDATE_ELEM, fd, key, kernel.new("uint64_t *", value), flags
    )


def _lookup(kernel: Kernel, fd: int, key: int) -> tuple[str, int]:
    out = kernel.new("uint64_t *")
    r = _elem(kernel, kernel.BPF_MAP_LOOKUP_ELEM, fd, key, out)
    return r.outcome, int(out[0])


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0):
    return {"code": code, "dst_reg": dst, "src_reg": src, "off": off, "imm": imm}


def _returns(kernel: Kernel, value: int) -> list:
    """r0 = value; exit: a socket filter keeps that many bytes of each packet."""
    k = kernel
    return [
        _insn(k.BPF_ALU64 | k.BPF_MOV | k.BPF_K, imm=value),
        _insn(k.BPF_JMP | k.BPF_EXIT),
    ]


def _load(kernel: Kernel, insns: list, prog_type: int | None = None, log: Any = None):
    prog = kernel.new("struct bpf_insn[]", insns)
    lic = kernel.buf(b"GPL")
    kind = kernel.BPF_PROG_TYPE_SOCKET_FILTER if prog_type is None else prog_type
    fields = [kind, len(insns), kernel.address(prog), kernel.address(lic), 0, 0, 0]
    if log is not None:
        fields[4:] = [1, len(log), kernel.address(log)]
    return _bpf(kernel, kernel.BPF_PROG_LOAD, kernel.new(PROG_LOAD, fields))


@REFUSED
def test_map_create_without_privilege_is_eperm(kernel: Kernel) -> None:
    assert _map(kernel).errno == "EPERM"


@REFUSED
def test_prog_load_without_privilege_is_eperm(kernel: Kernel) -> None:
    assert _load(kernel, _returns(kernel, 0)).errno == "EPERM"


@needs_bpf
def test_array_map_update_then_lookup_round_trips(kernel: Kernel, array_map: int) -> None:
    _update(kernel, array_map, 2, 0x1122334455667788).unwrap()
    assert _lookup(kernel, array_map, 2) == ("ok", 0x1122334455667788)


@needs_bpf
def test_array_map_elements_start_zeroed(kernel: Kernel, array_map: int) -> None:
    assert [_lookup(kernel, array_map, i) for i in range(ENTRIES)] == [("ok", 0)] * ENTRIES


@needs_bpf
def test_array_map_lookup_past_the_end_is_enoent(kernel: Kernel, array_map: int) -> None:
    assert _lookup(kernel, array_map, ENTRIES)[0] == "ENOENT"


@needs_bpf
def test_array_map_update_past_the_end_is_e2big(kernel: Kernel, array_map: int) -> None:
    assert _update(kernel, array_map, ENTRIES, 1).errno == "E2BIG"


@needs_bpf
def test_array_map_update_noexist_is_eexist(kernel: Kernel, array_map: int) -> None:
    """Every element of an array always exists."""
    assert _update(kernel, array_map, 0, 1, kernel.BPF_NOEXIST).errno == "EEXIST"


@needs_bpf
def test_array_map_delete_is_einval(kernel: Kernel, array_map: int) -> None:
    assert _elem(kernel, kernel.BPF_MAP_DELETE_ELEM, array_map, 0, None).errno == "EINVAL"


@needs_bpf
def test_array_map_update_with_unknown_flags_is_einval(kernel: Kernel, array_map: int) -> None:
    assert _update(kernel, array_map, 0, 1, 1 << 20).errno == "EINVAL"


@needs_bpf
def test_get_next_key_walks_the_array_in_order(kernel: Kernel, array_map: int) -> None:
    keys, key = [], None
    while True:
        nxt = kernel.new("uint32_t *")
        r = _elem(kernel, kernel.BPF_MAP_GET_NEXT_KEY, array_map, key, nxt)
        if not r.ok:
            break
        key = int(nxt[0])
        keys.append(key)
    assert keys == list(range(ENTRIES))
    assert r.errno == "ENOENT"


@needs_bpf
def test_obj_get_info_by_fd_describes_the_map(kernel: Kernel, array_map: int) -> None:
    info = kernel.new(MAP_INFO)
    size = kernel.ffi.sizeof(info[0])
    attr = kernel.new(INFO, [array_map, size, kernel.address(info)])
    _bpf(kernel, kernel.BPF_OBJ_GET_INFO_BY_FD, attr).unwrap()
    got = (info.type, info.key_size, info.value_size, info.max_entries)
    assert got == (kernel.BPF_MAP_TYPE_ARRAY, 4, 8, ENTRIES)
    assert attr.info_len == size
    assert info.id > 0


@needs_bpf
@pytest.mark.parametrize(
    ("key_size", "value_size", "entries"),
    [(8, 8, ENTRIES), (4, 0, ENTRIES), (4, 8, 0)],
    ids=["array-key-not-4-bytes", "no-value", "no-entries"],
)
def test_map_create_with_bad_sizes_is_einval(
    kernel: Kernel, key_size: int, value_size: int, entries: int
) -> None:
    assert _map(kernel, key_size, value_size, entries).errno == "EINVAL"


@needs_bpf
def test_map_create_of_an_unknown_type_is_einval(kernel: Kernel) -> None:
    attr = kernel.new(MAP_CREATE, [100_000, 4, 8, ENTRIES, 0])
    assert _bpf(kernel, kernel.BPF_MAP_CREATE, attr).errno == "EINVAL"


@needs_bpf
def test_unknown_command_is_einval(kernel: Kernel) -> None:
    assert kernel.bpf(10_000, kernel.buf(64), 64).errno == "EINVAL"


@needs_bpf
def test_attr_larger_than_the_kernels_with_unknown_bytes_is_e2big(kernel: Kernel) -> None:
    attr = kernel.buf(4096)
    fields = kernel.ffi.cast(MAP_CREATE, attr)
    fields.map_type, fields.key_size, fields.value_size = kernel.BPF_MAP_TYPE_ARRAY, 4, 8
    fields.max_entries = ENTRIES
    attr[4000] = b"\x01"
    assert kernel.bpf(kernel.BPF_MAP_CREATE, attr, 4096).errno == "E2BIG"


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    b.setblocking(False)
    return a, b


def _attach(kernel: Kernel, sock: socket.socket, prog: int) -> None:
    fd = kernel.new("int *", prog)
    kernel.setsockopt(sock.fileno(), kernel.SOL_SOCKET, kernel.SO_ATTACH_BPF, fd, 4).unwrap()


@needs_bpf
@pytest.mark.parametrize(
    ("keep", "received"),
    [(0, None), (-1, b"datagram"), (3, b"dat")],
    ids=["zero-drops", "all-delivers", "three-trims"],
)
def test_socket_filter_return_value_is_the_bytes_kept(
    kernel: Kernel, keep: int, received: bytes | None
) -> None:
    """0 drops the packet (the sender is not told), n keeps its first n bytes."""
    prog = _load(kernel, _returns(kernel, keep)).unwrap()
    a, b = _pair()
    try:
        _attach(kernel, b, prog)
        assert a.send(b"datagram") == 8
        try:
            got = b.recv(64)
        except BlockingIOError:
            got = None
        assert got == received
    finally:
        a.close(), b.close(), os.close(prog)


@needs_bpf
def test_prog_load_without_exit_is_einval_with_a_verifier_log(kernel: Kernel) -> None:
    log = kernel.buf(4096)
    k = kernel
    r = _load(kernel, [_insn(k.BPF_ALU64 | k.BPF_MOV | k.BPF_K, imm=0)], log=log)
    assert r.errno == "EINVAL"
    assert kernel.ffi.string(log) != b""  # the verifier says why


@needs_bpf
def test_prog_load_reading_an_uninitialized_register_is_eacces(kernel: Kernel) -> None:
    """r0 = r2 + 0: r2 is never written in a socket filter (only r1, the context)."""
    k = kernel
    insns = [
        _insn(k.BPF_ALU64 | k.BPF_MOV | k.BPF_X, dst=0, src=2),
        _insn(k.BPF_JMP | k.BPF_EXIT),
    ]
    assert _load(kernel, insns).errno == "EACCES"


@needs_bpf
def test_prog_load_of_an_unknown_type_is_einval(kernel: Kernel) -> None:
    assert _load(kernel, _returns(kernel, 0), prog_type=100_000).errno == "EINVAL"


@needs_bpf
def test_attach_bpf_with_a_map_fd_is_einval(kernel: Kernel, array_map: int) -> None:
    a, b = _pair()
    try:
        fd = kernel.new("int *", array_map)
        r = kernel.setsockopt(b.fileno(), kernel.SOL_SOCKET, kernel.SO_ATTACH_BPF, fd, 4)
        assert r.errno == "EINVAL"
    finally:
        a.close(), b.close()
