"""rt_sigreturn(2): the return from a signal handler, which restores the registers and
mask saved in the signal frame at the stack pointer. Called directly over a frame that
no signal delivery made, the kernel cannot return anywhere: it kills the caller with
SIGSEGV (a frame it rejects, or registers it restores that fault at once).

The frame must be one the test controls, not whatever the interpreter's C stack
holds, so the call is made from a few instructions of machine code that point the
stack at a filled buffer first (x86_64, i386, aarch64; other arches skip). It runs in
a raw-forked grandchild, without a core dump.
"""

import mmap
import os
import resource
import signal
import struct

import pytest

from syscalls import forking
from syscalls.kernel import Kernel

pytestmark = pytest.mark.os("linux")


def _stub(arch: str, nr: int) -> bytes:
    """void stub(void *sp): stack pointer = sp; rt_sigreturn(); (a trap if it returns)."""
    if arch == "x86_64":
        return (
            b"\x48\x89\xfc"  # mov rsp, rdi
            + b"\xb8" + struct.pack("<I", nr)  # mov eax, nr
            + b"\x0f\x05"  # syscall
            + b"\x0f\x0b"  # ud2
        )  # fmt: skip
    if arch == "i386":
        return (
            b"\x8b\x44\x24\x04"  # mov eax, [esp+4]
            + b"\x89\xc4"  # mov esp, eax
            + b"\xb8" + struct.pack("<I", nr)  # mov eax, nr
            + b"\xcd\x80"  # int 0x80
            + b"\x0f\x0b"  # ud2
        )  # fmt: skip
    if arch == "aarch64":
        return struct.pack(
            "<4I",
            0x9100001F,  # mov sp, x0
            0xD2800008 | (nr << 5),  # mov x8, #nr
            0xD4000001,  # svc #0
            0xD4200000,  # brk #0
        )
    pytest.skip(f"no machine-code stub for {arch}")


@pytest.mark.calls("rt_sigreturn")
@pytest.mark.parametrize("fill", [0x00, 0xA5], ids=["zeroed", "garbage"])
def test_rt_sigreturn_over_a_frame_no_signal_made_is_sigsegv(
    kernel: Kernel, in_child, fill: int
) -> None:
    code = _stub(kernel.platform.arch, kernel.platform.syscalls["rt_sigreturn"])

    def run() -> int:
        page = mmap.PAGESIZE
        addr = kernel.mmap(
            0, page, kernel.PROT_READ | kernel.PROT_WRITE,
            kernel.MAP_PRIVATE | kernel.MAP_ANONYMOUS, -1, 0,
        ).unwrap()  # fmt: skip
        kernel.ffi.memmove(kernel.ffi.cast("char *", addr), code, len(code))
        kernel.mprotect(addr, page, kernel.PROT_READ | kernel.PROT_EXEC).unwrap()
        stub = kernel.ffi.cast("void (*)(void *)", addr)
        frame = kernel.buf(bytes([fill]) * 65536)
        middle = (kernel.address(frame) + 32768) & ~63

        def child() -> int:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            stub(kernel.ffi.cast("void *", middle))
            return 1  # not reached: rt_sigreturn does not return here

        status = forking.wait(kernel, forking.fork(kernel, child))
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)

    assert in_child(run) == signal.SIGSEGV
