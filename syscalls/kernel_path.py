"""KernelPath: pathlib-style setup of test files through the tested kernel's own calls.

Tests prepare their files with pathlib ((tmp / "f").write_bytes(...)), which goes to the
host kernel. Where the tested kernel runs inside this process (rump), the host's file
system is not the tested one, so the `tmp` fixture hands out a KernelPath instead: the
same methods, made of the kernel's open/read/write/mkdir/symlink/stat calls. Only what
the suites use is here; anything else raises AttributeError, as a typo would.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, ClassVar, TypeVar

from syscalls.kernel import Kernel

CHUNK = 1 << 16
F = TypeVar("F", bound=Callable[..., Any])


def _setup(method: F) -> F:
    """Setup, not the test's subject: the calls are left out of its observations."""

    @functools.wraps(method)
    def wrapper(self: KernelPath, *args: Any, **kwargs: Any) -> Any:
        with self.kernel.unobserved():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class KernelPath(PurePosixPath):
    """A path in `kernel`'s file system; bind a kernel with KernelPath.bound(kernel)."""

    kernel: ClassVar[Kernel]

    @classmethod
    def bound(cls, kernel: Kernel) -> type[KernelPath]:
        # Paths made from this one (p / "x", p.parent) are of the same class: the kernel
        # rides on the class, since PurePath builds derived paths from the class alone.
        return type("KernelPath", (cls,), {"kernel": kernel})

    def _fail(self, result: Any) -> OSError:
        return OSError(int(result.errno), f"{result.name}: {result.errno.name}", str(self))

    def _open(self, flags: int, mode: int = 0o666) -> int:
        k = self.kernel
        r = k.openat(k.AT_FDCWD, str(self), flags | k.O_CLOEXEC, mode)
        if not r.ok:
            raise self._fail(r)
        return r.value

    @_setup
    def write_bytes(self, data: bytes) -> int:
        k = self.kernel
        fd = self._open(k.O_WRONLY | k.O_CREAT | k.O_TRUNC)
        try:
            view = memoryview(bytes(data))
            while view:
                r = k.write(fd, bytes(view[:CHUNK]), min(len(view), CHUNK))
                if not r.ok:
                    raise self._fail(r)
                view = view[r.value :]
        finally:
            k.close_quietly(fd)
        return len(data)

    def write_text(self, text: str) -> int:
        return self.write_bytes(text.encode())

    @_setup
    def read_bytes(self) -> bytes:
        k = self.kernel
        fd = self._open(k.O_RDONLY)
        chunks = []
        try:
            buf = k.buf(CHUNK)
            while True:
                r = k.read(fd, buf, CHUNK)
                if not r.ok:
                    raise self._fail(r)
                if r.value == 0:
                    return b"".join(chunks)
                chunks.append(k.bytes(buf, r.value))
        finally:
            k.close_quietly(fd)

    def read_text(self) -> str:
        return self.read_bytes().decode()

    @_setup
    def touch(self, mode: int = 0o666) -> None:
        self.kernel.close_quietly(self._open(self.kernel.O_WRONLY | self.kernel.O_CREAT, mode))

    @_setup
    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        k = self.kernel
        r = k.mkdirat(k.AT_FDCWD, str(self), mode)
        if r.ok:
            return
        if r.errno == "ENOENT" and parents and self.parent != self:
            self.parent.mkdir(mode, parents=True, exist_ok=True)
            return self.mkdir(mode, parents=False, exist_ok=exist_ok)
        if r.errno == "EEXIST" and exist_ok and self.is_dir():
            return
        raise self._fail(r)

    @_setup
    def symlink_to(self, target: str | os.PathLike[str]) -> None:
        k = self.kernel
        r = k.symlinkat(os.fspath(target), k.AT_FDCWD, str(self))
        if not r.ok:
            raise self._fail(r)

    @_setup
    def hardlink_to(self, target: str | os.PathLike[str]) -> None:
        k = self.kernel
        r = k.linkat(k.AT_FDCWD, os.fspath(target), k.AT_FDCWD, str(self), 0)
        if not r.ok:
            raise self._fail(r)

    @_setup
    def readlink(self) -> KernelPath:
        k = self.kernel
        buf = k.buf(1024)
        r = k.readlinkat(k.AT_FDCWD, str(self), buf, 1024)
        if not r.ok:
            raise self._fail(r)
        return type(self)(os.fsdecode(k.bytes(buf, r.value)))

    @_setup
    def chmod(self, mode: int) -> None:
        k = self.kernel
        r = k.fchmodat(k.AT_FDCWD, str(self), mode, 0)
        if not r.ok:
            raise self._fail(r)

    @_setup
    def stat(self, follow_symlinks: bool = True) -> os.stat_result:
        k = self.kernel
        st = k.new("struct stat *")
        flags = 0 if follow_symlinks else k.AT_SYMLINK_NOFOLLOW
        r = k.fstatat(k.AT_FDCWD, str(self), st, flags)
        if not r.ok:
            raise self._fail(r)
        times = (st.st_atime, st.st_mtime, st.st_ctime)  # the names every table's stat has
        fields = (st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid)
        return os.stat_result((*fields, st.st_size, *times))

    def lstat(self) -> os.stat_result:
        return self.stat(follow_symlinks=False)

    def _mode(self, follow_symlinks: bool = True) -> int | None:
        try:
            return self.stat(follow_symlinks).st_mode
        except OSError:
            return None

    def exists(self) -> bool:
        return self._mode() is not None

    def is_dir(self) -> bool:
        mode = self._mode()
        return mode is not None and mode & 0o170000 == 0o040000

    def is_file(self) -> bool:
        mode = self._mode()
        return mode is not None and mode & 0o170000 == 0o100000

    def is_symlink(self) -> bool:
        mode = self._mode(follow_symlinks=False)
        return mode is not None and mode & 0o170000 == 0o120000
