/* FreeBSD amd64 struct layouts (FreeBSD 12 and later; ino64): sys/sys/stat.h (64-bit
 * dev_t, ino_t and nlink_t, 16-bit mode_t), sys/sys/event.h (struct kevent with ext[4],
 * as syscall 560 takes it), sys/sys/_timespec.h, sys/sys/_timeval.h, sys/sys/poll.h,
 * sys/sys/_iovec.h, sys/sys/socket.h, netinet/in.h, netinet6/in6.h, sys/sys/un.h,
 * x86/include/reg.h (struct reg for PT_GETREGS). These headers were not in the tree
 * amd64.toml was made from (syscalls.master only): regenerate from a whole tree and
 * check these against it. */

struct timeval { int64_t tv_sec; long tv_usec; };
struct stat {
    uint64_t st_dev; uint64_t st_ino; uint64_t st_nlink; uint16_t st_mode;
    int16_t st_bsdflags; uint32_t st_uid; uint32_t st_gid; int32_t st_padding1;
    uint64_t st_rdev;
    struct timespec st_atim; struct timespec st_mtim; struct timespec st_ctim;
    struct timespec st_birthtim;
    int64_t st_size; int64_t st_blocks; int32_t st_blksize; uint32_t st_flags;
    uint64_t st_gen; uint64_t st_spare[10];
};
struct kevent {
    uintptr_t ident; short filter; unsigned short flags; unsigned int fflags;
    int64_t data; void *udata; uint64_t ext[4];
};
struct reg {
    int64_t r_r15; int64_t r_r14; int64_t r_r13; int64_t r_r12; int64_t r_r11;
    int64_t r_r10; int64_t r_r9; int64_t r_r8; int64_t r_rdi; int64_t r_rsi;
    int64_t r_rbp; int64_t r_rbx; int64_t r_rdx; int64_t r_rcx; int64_t r_rax;
    uint32_t r_trapno; uint16_t r_fs; uint16_t r_gs; uint32_t r_err; uint16_t r_es;
    uint16_t r_ds; int64_t r_rip; int64_t r_cs; int64_t r_rflags; int64_t r_rsp;
    int64_t r_ss;
};
