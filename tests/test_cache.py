"""syscalls.cache: the cache directory, and C declarations parsed once and kept."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import cffi
import pytest

from syscalls import cache
from syscalls.abi import Platform

CDEF = "struct pair { int a; long b; };\nlong syscall(long number, ...);\n"
PACKED = "struct tight { char c; int i; };\n"


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the C text was parsed")

    monkeypatch.setattr(cffi.cparser.Parser, "parse", refuse)


def test_the_cache_directory_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "syscalls"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "syscalls"


def test_declarations_are_parsed_once_then_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cache.ffi_for(CDEF, PACKED, tmp_path, write=True)
    state = cache.ffi_state(CDEF, PACKED, tmp_path)
    assert state.is_file() and state.stat().st_mode & 0o777 == 0o644
    no_parsing(monkeypatch)
    again = cache.ffi_for(CDEF, PACKED, tmp_path)
    assert type(again) is type(first) is cffi.FFI
    assert again.sizeof("struct pair") == first.sizeof("struct pair") == 16
    assert again.offsetof("struct pair", "b") == 8
    assert again.sizeof("struct tight") == 5  # packed, as declared
    assert again.dlopen(None).syscall(again.cast("long", 39)) == os.getpid()  # getpid
    # Another text, another file: a changed table is never read from an old state.
    assert cache.ffi_state(CDEF + "struct x { int y; };", PACKED, tmp_path) != state


def test_the_ffi_still_parses_what_else_it_is_asked(tmp_path: Path) -> None:
    cache.ffi_for(CDEF, "", tmp_path, write=True)
    ffi = cache.ffi_for(CDEF, "", tmp_path)  # from the state
    anonymous = ffi.new("struct { unsigned long handler, flags; uint64_t mask; } *")
    assert ffi.sizeof(anonymous[0]) == 24
    with pytest.raises(AttributeError):
        ffi.dlopen(None).no_such_symbol  # noqa: B018 - the lookup is the test


def test_the_tables_declarations_come_back_with_the_same_layouts(tmp_path: Path) -> None:
    p = Platform.load("linux/x86_64")
    parsed = cache.ffi_for(p.cdef, p.cdef_packed, tmp_path, write=True)
    kept = cache.ffi_for(p.cdef, p.cdef_packed, tmp_path)
    assert kept.list_types() == parsed.list_types()
    for name in parsed.list_types()[1]:
        ctype = f"struct {name}"
        assert kept.sizeof(ctype) == parsed.sizeof(ctype), ctype

        # Each field's place, bitfields' too (offsetof cannot take those).
        def fields(ffi: cffi.FFI) -> list[tuple[str, int, int, int, str]]:
            return [
                (f, t.offset, t.bitshift, t.bitsize, t.type.cname)
                for f, t in ffi.typeof(ctype).fields or []  # noqa: B023
            ]

        assert fields(kept) == fields(parsed), ctype


@pytest.mark.parametrize("how", ["writable by others", "cut short", "not a state"])
def test_a_state_that_cannot_be_trusted_or_read_is_parsed_afresh(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.ffi_for(CDEF, "", tmp_path, write=True)
    state = cache.ffi_state(CDEF, "", tmp_path)
    if how == "writable by others":
        state.chmod(0o666)
    elif how == "cut short":
        state.write_bytes(state.read_bytes()[:100])
    else:
        state.write_bytes(b"\x80\x04K\x01.")  # pickle.dumps(1)
    parses = []
    real = cffi.cparser.Parser.parse
    monkeypatch.setattr(
        cffi.cparser.Parser, "parse", lambda self, *a, **k: parses.append(1) or real(self, *a, **k)
    )
    assert cache.ffi_for(CDEF, "", tmp_path).sizeof("struct pair") == 16
    assert parses


def test_a_plain_run_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.WRITE, raising=False)
    cache.ffi_for(CDEF, "", tmp_path)
    assert not (tmp_path / "cffi").exists()
    monkeypatch.setenv(cache.WRITE, "1")
    cache.ffi_for(CDEF, "", tmp_path)
    assert cache.ffi_state(CDEF, "", tmp_path).is_file()


def test_an_unwritable_cache_costs_only_the_parse(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ffi = cache.ffi_for(CDEF, "", blocker, write=True)  # the cache would be below a file
    assert ffi.sizeof("struct pair") == 16
    assert not cache.ffi_state(CDEF, "", blocker).exists()


def test_a_table_is_parsed_once_then_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (Path(__file__).parent.parent / "platforms/linux/x86_64.toml").read_bytes()
    monkeypatch.delenv(cache.WRITE, raising=False)
    parsed = cache.toml_loads(data, tmp_path)
    assert not (tmp_path / "toml").exists()  # a plain run keeps nothing
    assert cache.toml_loads(data, tmp_path, write=True) == parsed
    state = cache.toml_state(data, tmp_path)
    assert state.is_file() and state.stat().st_mode & 0o777 == 0o644
    import tomllib

    monkeypatch.setattr(tomllib, "loads", lambda *a, **k: pytest.fail("parsed again"))
    assert cache.toml_loads(data, tmp_path) == parsed
    assert cache.toml_state(data + b"\n", tmp_path) != state  # changed text, another file


def test_a_table_state_that_cannot_be_trusted_is_parsed_afresh(tmp_path: Path) -> None:
    data = b'[platform]\nos = "linux"\n'
    cache.toml_loads(data, tmp_path, write=True)
    state = cache.toml_state(data, tmp_path)
    state.write_bytes(b"\x80\x04K\x01.")  # pickle.dumps(1): not a table
    assert cache.toml_loads(data, tmp_path) == {"platform": {"os": "linux"}}
    state.chmod(0o666)
    state.write_bytes(pickle.dumps({"platform": {"os": "forged"}}))
    assert cache.toml_loads(data, tmp_path) == {"platform": {"os": "linux"}}
    with pytest.raises(ValueError):  # tomllib's own errors, as before
        cache.toml_loads(b"[platform\n", tmp_path)
