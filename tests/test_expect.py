"""Expectations by OS and kernel version."""

import pytest

from syscalls.expect import ByOS, at_least, version_tuple


def test_by_os_picks_the_os_then_the_default() -> None:
    e = ByOS(default="ENOTEMPTY", openbsd="EEXIST")
    assert e["openbsd"] == "EEXIST"
    assert e["linux"] == "ENOTEMPTY"


def test_by_os_without_default_names_what_is_missing() -> None:
    with pytest.raises(KeyError, match="netbsd"):
        ByOS(linux=1)["netbsd"]


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("6.1.0-47-cloud-amd64", (6, 1, 0)),
        ("4.4.0", (4, 4, 0)),
        ("14.1-RELEASE", (14, 1)),
        ("weird", ()),
    ],
)
def test_version_tuple_reads_the_leading_numbers(release: str, expected: tuple) -> None:
    assert version_tuple(release) == expected


def test_at_least_compares_numerically() -> None:
    assert at_least("6.18.44-fc", "5.16")
    assert not at_least("5.9.0", "5.16")
