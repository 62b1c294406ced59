"""syscalls.runner.status: the record a worker writes and the watchdog reads."""

from __future__ import annotations

import os
from pathlib import Path

from syscalls.runner.highfd import HIGH_FD
from syscalls.runner.status import (
    MAX_NODEID,
    STATUS_PREFIX,
    StatusWriter,
    read_status,
    running_in,
)


def test_a_started_test_reads_back(tmp_path: Path) -> None:
    writer = StatusWriter(tmp_path / "gw0")
    writer.start("suites/fs/test_x.py::test_y[1]", 120.0, 1234.5)
    status = read_status(tmp_path / "gw0")
    assert status is not None
    assert (status.pid, status.nodeid, status.start, status.limit) == (
        os.getpid(),
        "suites/fs/test_x.py::test_y[1]",
        1234.5,
        120.0,
    )
    writer.close()


def test_idle_replaces_a_longer_record_and_bumps_the_sequence(tmp_path: Path) -> None:
    writer = StatusWriter(tmp_path / "gw0")
    writer.start("a" * 300, 5, 1.0)
    started = read_status(tmp_path / "gw0")
    writer.idle()
    idle = read_status(tmp_path / "gw0")
    assert started is not None and idle is not None
    assert idle.nodeid == "" and idle.limit == 0
    assert idle.seq == started.seq + 1


def test_a_torn_or_foreign_record_is_not_believed(tmp_path: Path) -> None:
    path = tmp_path / "gw0"
    StatusWriter(path).start("suites/a.py::test_b", 10, 2.0)
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # a byte of the nodeid changed under the reader
    path.write_bytes(bytes(data))
    assert read_status(path) is None
    path.write_bytes(b"not a status record at all, but long enough to parse........")
    assert read_status(path) is None
    assert read_status(tmp_path / "missing") is None


def test_a_very_long_nodeid_is_cut_and_still_read(tmp_path: Path) -> None:
    writer = StatusWriter(tmp_path / "gw0")
    writer.start("x" * (MAX_NODEID + 100), 1, 1.0)
    status = read_status(tmp_path / "gw0")
    assert status is not None and status.nodeid == "x" * MAX_NODEID


def test_a_writer_whose_fd_a_test_closed_opens_it_again(tmp_path: Path) -> None:
    writer = StatusWriter(tmp_path / "gw0")
    os.close(writer.fd)  # as an in-process close_range() would
    writer.start("suites/a.py::test_b", 3, 4.0)
    status = read_status(tmp_path / "gw0")
    assert status is not None and status.nodeid == "suites/a.py::test_b"
    writer.close()


def test_the_record_is_written_through_a_descriptor_above_the_tests_range(tmp_path: Path) -> None:
    """Tests count the descriptors they leave open below HIGH_FD (runner.descriptors)."""
    writer = StatusWriter(tmp_path / "gw0")
    assert writer.fd >= HIGH_FD
    os.close(writer.fd)  # as a test's close_range would: opened again, as high
    writer.start("suites/a.py::test_b", 10, 2.0)
    assert writer.fd >= HIGH_FD
    assert read_status(tmp_path / "gw0") is not None
    writer.close()


def test_the_tests_workers_were_in_are_read_from_their_records(tmp_path: Path) -> None:
    records = tmp_path / f"{STATUS_PREFIX}abc"
    records.mkdir()
    StatusWriter(records / "w0").start("suites/a.py::test_b", 10, 2.0)
    StatusWriter(records / "w1").idle()
    (records / "stray").write_bytes(b"not a record")
    assert running_in(tmp_path) == ["suites/a.py::test_b"]
    assert running_in(tmp_path / "nothing") == []


def test_a_record_counts_the_tests_ended_and_names_a_module_in_import(tmp_path: Path) -> None:
    writer = StatusWriter(tmp_path / "gw0")
    writer.collecting("suites/x.py", 120.0, 5.0)
    status = read_status(tmp_path / "gw0")
    assert status is not None and (status.nodeid, status.module) == ("", "suites/x.py")
    assert (status.start, status.limit, status.ended) == (5.0, 120.0, 0)
    for name in ("t.py::test_a", "t.py::test_b"):
        writer.start(name, 120.0, 6.0)
        writer.ended(name)
    status = read_status(tmp_path / "gw0")
    assert status is not None and (status.nodeid, status.last, status.ended) == (
        "",
        "t.py::test_b",
        2,
    )
    writer.idle()  # between two modules: no test ended
    status = read_status(tmp_path / "gw0")
    assert status is not None and (status.nodeid, status.module, status.ended) == ("", "", 2)
