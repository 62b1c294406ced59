"""How much of a test's report reaches the controller, the terminal and JUnit XML: its
captured output, its failure's text and the properties it recorded, cut in the middle
where they are huge. A test that prints in a loop until its limit, or fails with
`assert False, huge`, sent gigabytes to the controller and to JUnit XML (a 200 MB
message: the run took 48 s instead of half a second, and 1.6 GB of memory); one
record_property() of 300 MB made a 300 MB junit.xml."""

from __future__ import annotations

from typing import Any

from syscalls.profile import PROPERTY

MAX_OUTPUT = 1 << 20  # characters of one captured output kept: its first and last half
PIECE = 64 << 10  # characters of one string of a failure's text kept: first and last half


def cut(text: str, most: int = MAX_OUTPUT) -> str:
    """A test's captured output (or a warning's message, `most` PIECE), its middle cut
    beyond `most` characters."""
    return _cut(text, most) if isinstance(text, str) else text


def warning(warning_message: Any) -> None:
    """A warning a test raised, its message cut beyond PIECE characters, before pytest's
    summary prints it whole (one of 50 MB went to the terminal)."""
    message = warning_message.message
    text = str(message)
    if len(text) <= PIECE:
        return
    try:
        warning_message.message = type(message)(_cut(text, PIECE))
    except Exception:  # a Warning class that takes other arguments
        warning_message.message = UserWarning(_cut(text, PIECE))


def _cut(text: str, most: int) -> str:
    if len(text) <= most:
        return text
    half = most // 2
    note = f"[... {len(text) - 2 * half} characters cut by the runner ...]"
    return f"{text[:half]}\n{note}\n{text[-half:]}"


def bound(value: Any) -> Any:
    """A serialized report's failure text (nested dicts, lists and strings), as a forked
    worker sends it: each string cut in the middle beyond PIECE characters, and each
    list of lines once they hold MAX_OUTPUT. The shape is kept, for the controller to
    rebuild the report from it."""
    if isinstance(value, str):
        return _cut(value, PIECE)
    if isinstance(value, dict):
        return {key: bound(item) for key, item in value.items()}
    if isinstance(value, list) and value and all(isinstance(line, str) for line in value):
        kept, size = [], 0
        for i, line in enumerate(value):
            if size > MAX_OUTPUT:
                kept.append(f"[... {len(value) - i} more lines cut by the runner ...]")
                break
            kept.append(_cut(line, PIECE))
            size += len(kept[-1])
        return kept
    if isinstance(value, (list, tuple)):
        return type(value)(bound(item) for item in value)
    return value


def text(longrepr: Any) -> Any:
    """A report's failure text as pytest holds it (serial and xdist runs): left as it is,
    or, past MAX_OUTPUT once rendered, that rendering cut in the middle."""
    if longrepr is None or isinstance(longrepr, tuple):  # a skip's (path, line, reason)
        return longrepr
    rendered = str(longrepr)
    return _cut(rendered, MAX_OUTPUT) if len(rendered) > MAX_OUTPUT else longrepr


def properties(props: Any) -> Any:
    """A report's user_properties, each value cut in the middle beyond PIECE characters
    (as text: JUnit XML writes each as its str()). The observations' own property is
    bounded where it is recorded (syscalls.profile), and must stay whole JSON."""
    bounded = []
    for name, value in props or ():
        if name != PROPERTY and not isinstance(value, (int, float, bool, type(None))):
            text = value if isinstance(value, str) else str(value)
            if len(text) > PIECE:
                value = _cut(text, PIECE)
        bounded.append((name, value))
    return bounded
