"""add_key(2), request_key(2), keyctl(2): the kernel's key retention service, with the
"user" key type (a payload of up to 32767 bytes the caller may read back).

Every test runs in a child that first joins a new anonymous session keyring
(KEYCTL_JOIN_SESSION_KEYRING with no name): keys it adds there go when the child's
last reference to that keyring does, so nothing reaches the user's own keyrings.
request_key is called without callout information, so a missing key is ENOKEY at once
(no upcall to /sbin/request-key).
"""

import os
from collections.abc import Callable
from typing import Any

import pytest

from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")

DESCRIPTION = b"syscalls:test-key"
MISSING = 0x7FFFFFF0  # a serial no key has: serials are handed out from 3 upwards, randomly


def _session(kernel: Kernel) -> int:
    return kernel.keyctl(kernel.KEYCTL_JOIN_SESSION_KEYRING, None, 0, 0, 0).unwrap()


def _add(kernel: Kernel, payload: bytes, desc: bytes = DESCRIPTION, ring: int | None = None) -> int:
    where = kernel.KEY_SPEC_SESSION_KEYRING if ring is None else ring
    return kernel.add_key(b"user", desc, payload, len(payload), where).unwrap()


def _read(kernel: Kernel, key: int, size: int = 256) -> tuple[Any, bytes]:
    buf = kernel.buf(size)
    r = kernel.keyctl(kernel.KEYCTL_READ, key, buf, size, 0)
    return r, (kernel.bytes(buf, min(r.value, size)) if r.ok else b"")


def _in_session(in_child: Callable, kernel: Kernel, body: Callable[[], Any]) -> Any:
    def run() -> Any:
        _session(kernel)
        return body()

    return in_child(run)


def test_add_key_then_keyctl_read_returns_the_payload(kernel: Kernel, in_child) -> None:
    def body() -> tuple[int, bytes]:
        r, data = _read(kernel, _add(kernel, b"secret payload"))
        return r.value, data

    assert _in_session(in_child, kernel, body) == (14, b"secret payload")


def test_keyctl_read_into_a_short_buffer_returns_the_full_length(kernel: Kernel, in_child) -> None:
    def body() -> tuple[int, bytes]:
        key = _add(kernel, b"0123456789")
        buf = kernel.buf(b"\xff" * 4)
        n = kernel.keyctl(kernel.KEYCTL_READ, key, buf, 4, 0).unwrap()
        return n, kernel.bytes(buf, 4)

    n, head = _in_session(in_child, kernel, body)
    assert n == 10
    assert head in (b"0123", b"\xff" * 4)  # 6.1 copies what fits; the length is the point


def test_keyctl_describe_names_type_owner_and_description(kernel: Kernel, in_child) -> None:
    def body() -> bytes:
        key = _add(kernel, b"x")
        buf = kernel.buf(256)
        n = kernel.keyctl(kernel.KEYCTL_DESCRIBE, key, buf, 256, 0).unwrap()
        return kernel.bytes(buf, n).rstrip(b"\0")

    kind, uid, gid, _perm, desc = _in_session(in_child, kernel, body).split(b";", 4)
    assert (kind, int(uid), int(gid), desc) == (b"user", os.geteuid(), os.getegid(), DESCRIPTION)


def test_keyctl_update_replaces_the_payload(kernel: Kernel, in_child) -> None:
    def body() -> bytes:
        key = _add(kernel, b"old")
        kernel.keyctl(kernel.KEYCTL_UPDATE, key, b"newer", 5, 0).unwrap()
        return _read(kernel, key)[1]

    assert _in_session(in_child, kernel, body) == b"newer"


def test_add_key_with_the_same_description_updates_that_key(kernel: Kernel, in_child) -> None:
    def body() -> tuple[bool, bytes]:
        first = _add(kernel, b"one")
        second = _add(kernel, b"two")
        return first == second, _read(kernel, first)[1]

    assert _in_session(in_child, kernel, body) == (True, b"two")


def test_revoked_key_reads_as_ekeyrevoked(kernel: Kernel, in_child) -> None:
    def body() -> tuple[str, str]:
        key = _add(kernel, b"x")
        revoked = kernel.keyctl(kernel.KEYCTL_REVOKE, key, 0, 0, 0).outcome
        return revoked, _read(kernel, key)[0].outcome

    assert _in_session(in_child, kernel, body) == ("ok", "EKEYREVOKED")


def test_revoked_key_cannot_be_updated(kernel: Kernel, in_child) -> None:
    def body() -> str:
        key = _add(kernel, b"x")
        kernel.keyctl(kernel.KEYCTL_REVOKE, key, 0, 0, 0).unwrap()
        return kernel.keyctl(kernel.KEYCTL_UPDATE, key, b"y", 1, 0).outcome

    assert _in_session(in_child, kernel, body) == "EKEYREVOKED"


def test_invalidated_key_is_no_longer_found(kernel: Kernel, in_child) -> None:
    """The search skips it (security/keys/keyring.c: keyring_search_iterator): it says
    EKEYREVOKED while the key is still linked, ENOKEY once the key garbage collector
    has unlinked it, which it does at once but asynchronously."""

    def body() -> tuple[str, str]:
        _add(kernel, b"x")
        key = kernel.request_key(b"user", DESCRIPTION, None, 0).unwrap()
        invalidated = kernel.keyctl(kernel.KEYCTL_INVALIDATE, key, 0, 0, 0).outcome
        with kernel.unobserved():  # either answer, by a race: not one for --baseline
            return invalidated, kernel.request_key(b"user", DESCRIPTION, None, 0).outcome

    invalidated, found = _in_session(in_child, kernel, body)
    assert invalidated == "ok"
    assert found in ("EKEYREVOKED", "ENOKEY")


def test_request_key_finds_a_key_in_the_session_keyring(kernel: Kernel, in_child) -> None:
    def body() -> bool:
        key = _add(kernel, b"x")
        return kernel.request_key(b"user", DESCRIPTION, None, 0).unwrap() == key

    assert _in_session(in_child, kernel, body) is True


def test_request_key_for_a_missing_key_is_enokey(kernel: Kernel, in_child) -> None:
    def body() -> str:
        return kernel.request_key(b"user", b"syscalls:nobody-made-this", None, 0).outcome

    assert _in_session(in_child, kernel, body) == "ENOKEY"


def test_keyctl_search_finds_by_type_and_description(kernel: Kernel, in_child) -> None:
    def body() -> tuple[bool, str]:
        key = _add(kernel, b"x")
        ring = kernel.KEY_SPEC_SESSION_KEYRING
        found = kernel.keyctl(kernel.KEYCTL_SEARCH, ring, b"user", DESCRIPTION, 0).unwrap()
        missing = kernel.keyctl(kernel.KEYCTL_SEARCH, ring, b"user", b"syscalls:none", 0)
        return found == key, missing.outcome

    assert _in_session(in_child, kernel, body) == (True, "ENOKEY")


def test_keyctl_unlink_takes_the_key_out_of_the_keyring(kernel: Kernel, in_child) -> None:
    def body() -> tuple[str, str]:
        key = _add(kernel, b"x")
        ring = kernel.KEY_SPEC_SESSION_KEYRING
        unlinked = kernel.keyctl(kernel.KEYCTL_UNLINK, key, ring, 0, 0).outcome
        with kernel.unobserved():  # either answer, by a race: not one for --baseline
            return unlinked, kernel.keyctl(
                kernel.KEYCTL_SEARCH, ring, b"user", DESCRIPTION, 0
            ).outcome

    invalidated, found = _in_session(in_child, kernel, body)
    assert invalidated == "ok"
    assert found in ("EKEYREVOKED", "ENOKEY")


def test_keyctl_read_of_a_keyring_lists_its_keys(kernel: Kernel, in_child) -> None:
    def body() -> tuple[list[int], list[int]]:
        keys = [_add(kernel, b"x", desc=b"syscalls:%d" % i) for i in range(3)]
        buf = kernel.new("int32_t[16]")
        n = kernel.keyctl(kernel.KEYCTL_READ, kernel.KEY_SPEC_SESSION_KEYRING, buf, 64, 0).unwrap()
        return sorted(keys), sorted(buf[0 : n // 4])

    keys, listed = _in_session(in_child, kernel, body)
    assert listed == keys


def test_join_session_keyring_returns_what_get_keyring_id_reports(kernel: Kernel, in_child) -> None:
    def run() -> tuple[int, int]:
        joined = _session(kernel)
        spec = kernel.KEY_SPEC_SESSION_KEYRING
        return joined, kernel.keyctl(kernel.KEYCTL_GET_KEYRING_ID, spec, 0, 0, 0).unwrap()

    joined, reported = in_child(run)
    assert joined == reported


def test_joining_a_named_session_keyring_makes_it_the_session_keyring(
    kernel: Kernel, in_child
) -> None:
    def run() -> tuple[int, int]:
        name = b"syscalls:session:%d" % os.getpid()
        joined = kernel.keyctl(kernel.KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0).unwrap()
        spec = kernel.KEY_SPEC_SESSION_KEYRING
        return joined, kernel.keyctl(kernel.KEYCTL_GET_KEYRING_ID, spec, 0, 0, 0).unwrap()

    joined, session = in_child(run)
    assert joined > 0
    assert session == joined


def test_get_keyring_id_of_a_missing_thread_keyring_without_create_is_enokey(
    kernel: Kernel, in_child
) -> None:
    def run() -> tuple[str, str]:
        spec = kernel.KEY_SPEC_THREAD_KEYRING
        missing = kernel.keyctl(kernel.KEYCTL_GET_KEYRING_ID, spec, 0, 0, 0).outcome
        created = kernel.keyctl(kernel.KEYCTL_GET_KEYRING_ID, spec, 1, 0, 0).outcome
        return missing, created

    assert in_child(run) == ("ENOKEY", "ok")


def test_add_key_of_an_unknown_type_is_enodev(kernel: Kernel, in_child) -> None:
    def body() -> str:
        ring = kernel.KEY_SPEC_SESSION_KEYRING
        return kernel.add_key(b"syscalls-no-such-type", b"d", b"x", 1, ring).outcome

    assert _in_session(in_child, kernel, body) == "ENODEV"


def test_add_key_user_with_an_empty_description_is_einval(kernel: Kernel, in_child) -> None:
    def body() -> str:
        return kernel.add_key(b"user", b"", b"x", 1, kernel.KEY_SPEC_SESSION_KEYRING).outcome

    assert _in_session(in_child, kernel, body) == "EINVAL"


def test_add_key_of_a_dot_type_is_eperm(kernel: Kernel, in_child) -> None:
    """Types whose names begin with '.' are the kernel's own."""

    def body() -> str:
        return kernel.add_key(b".user", b"d", b"x", 1, kernel.KEY_SPEC_SESSION_KEYRING).outcome

    assert _in_session(in_child, kernel, body) == "EPERM"


def test_keyctl_read_of_a_missing_key_is_enokey(kernel: Kernel) -> None:
    assert _read(kernel, MISSING)[0].errno == "ENOKEY"


def test_keyctl_unknown_operation_is_eopnotsupp(kernel: Kernel) -> None:
    assert kernel.keyctl(9999, 0, 0, 0, 0).errno == "EOPNOTSUPP"


# Giving one's key away, to another user or to a group one is not in, is the
# administrator's (security/keys/keyctl.c keyctl_chown_key: CAP_SYS_ADMIN): EACCES.
@pytest.mark.as_user("root may give a key to anyone (CAP_SYS_ADMIN)")
@pytest.mark.parametrize("field", ["uid", "gid"])
def test_keyctl_chown_of_an_own_key_to_another_id_is_eacces(
    kernel: Kernel, in_child, field: str
) -> None:
    if field == "gid" and 0 in (os.getegid(), *os.getgroups()):
        pytest.skip("this user is in group 0: no group of another's to give the key to")

    def body() -> tuple[str, bytes]:
        key = _add(kernel, b"x")
        uid, gid = (0, -1) if field == "uid" else (-1, 0)
        outcome = kernel.keyctl(kernel.KEYCTL_CHOWN, key, uid, gid, 0).outcome
        buf = kernel.buf(256)
        n = kernel.keyctl(kernel.KEYCTL_DESCRIBE, key, buf, 256, 0).unwrap()
        return outcome, kernel.bytes(buf, n).split(b";")[1:3]

    outcome, ids = _in_session(in_child, kernel, body)
    assert outcome == "EACCES"
    assert [int(i) for i in ids] == [os.geteuid(), os.getegid()]
