"""What an xdist worker sends its controller, made sendable when execnet refuses it.

execnet, which carries xdist's messages, writes strings as strict UTF-8 and knows only
plain types, each by its exact type. One lone surrogate in a report -- a file name that
a kernel returned in bytes that are not UTF-8, decoded by os.fsdecode(), in an
assertion's message, a skip's reason, captured output or a warning -- or a property a
test recorded that is an object, raised in the worker, and xdist ended the whole run
with an INTERNALERROR: the tests after it unrun, their results lost.

So the worker's sending is wrapped: a message that execnet refuses (it encodes the whole
message before it writes any of it) goes again made plain: surrogates escaped as
\\udcff, other types as their nearest plain type or their repr(). The common case costs
nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

# What execnet writes as itself (its _Serializer's save_* methods)
_AS_IS = frozenset({type(None), bool, int, float, complex, bytes})


def plain(value: Any) -> Any:
    """`value` as execnet can write it: strings UTF-8 encodable, containers of the plain
    kinds rebuilt from plain values, anything else its repr()."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, str):
        text = str(value)  # a str subclass is not written
        try:
            text.encode()
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode()
        return text
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        kind = next(k for k in (list, tuple, set, frozenset) if isinstance(value, k))
        return kind(map(plain, value))
    if isinstance(value, (bool, int, float)):  # an enum's member, say
        return next(k for k in (bool, int, float) if isinstance(value, k))(value)
    return plain(repr(value))


def install(config: pytest.Config) -> bool:
    """In an xdist worker: its sending made to fall back to plain(); whether xdist's
    sender was found (a version that names it otherwise is left as it is)."""
    try:
        from execnet import DumpError
    except ImportError:
        return False
    for plugin in config.pluginmanager.get_plugins():
        send = getattr(plugin, "sendevent", None)
        if type(plugin).__name__ == "WorkerInteractor" and callable(send):
            plugin.sendevent = _falling_back(send, DumpError)
            return True
    return False


def _falling_back(send: Callable[..., None], refused: type[Exception]) -> Callable[..., None]:
    def sendevent(name: str, **kwargs: Any) -> None:
        try:
            send(name, **kwargs)
        except refused:
            send(name, **plain(kwargs))

    return sendevent
