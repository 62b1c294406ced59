/* OpenBSD amd64 struct layouts, from the OpenBSD 8.0 tree amd64.toml was made from
 * (bluhm/sys 14639db, 2026-08-19): sys/sys/stat.h (mode before dev; dev_t 32-bit,
 * ino_t 64-bit), sys/sys/event.h (short filter, unsigned short flags, void *udata),
 * sys/sys/_time.h, sys/sys/time.h, sys/sys/poll.h, sys/sys/uio.h, sys/sys/socket.h,
 * netinet/in.h, netinet6/in6.h, sys/sys/un.h, arch/amd64/include/reg.h (struct reg for
 * PT_GETREGS). Calls go through libc ([symbols]): OpenBSD has had no syscall(2) since
 * 7.5, so the functions the suites call are declared here too. */

struct timespec { int64_t tv_sec; long tv_nsec; };
struct timeval { int64_t tv_sec; long tv_usec; };
struct stat {
    uint32_t st_mode; int32_t st_dev; uint64_t st_ino; uint32_t st_nlink;
    uint32_t st_uid; uint32_t st_gid; int32_t st_rdev;
    struct timespec st_atim; struct timespec st_mtim; struct timespec st_ctim;
    int64_t st_size; int64_t st_blocks; int32_t st_blksize; uint32_t st_flags;
    uint32_t st_gen; struct timespec __st_birthtim;
};
struct kevent {
    uintptr_t ident; short filter; unsigned short flags; unsigned int fflags;
    int64_t data; void *udata;
};
struct pollfd { int fd; short events; short revents; };
struct iovec { void *iov_base; size_t iov_len; };
struct sockaddr { uint8_t sa_len; uint8_t sa_family; char sa_data[14]; };
struct in_addr { uint32_t s_addr; };
struct sockaddr_in {
    uint8_t sin_len; uint8_t sin_family; uint16_t sin_port; struct in_addr sin_addr;
    int8_t sin_zero[8];
};
struct in6_addr { uint8_t s6_addr[16]; };
struct sockaddr_in6 {
    uint8_t sin6_len; uint8_t sin6_family; uint16_t sin6_port; uint32_t sin6_flowinfo;
    struct in6_addr sin6_addr; uint32_t sin6_scope_id;
};
struct sockaddr_un { uint8_t sun_len; uint8_t sun_family; char sun_path[104]; };
struct reg {
    int64_t r_rdi; int64_t r_rsi; int64_t r_rdx; int64_t r_rcx; int64_t r_r8;
    int64_t r_r9; int64_t r_r10; int64_t r_r11; int64_t r_r12; int64_t r_r13;
    int64_t r_r14; int64_t r_r15; int64_t r_rbp; int64_t r_rbx; int64_t r_rax;
    int64_t r_rsp; int64_t r_rip; int64_t r_rflags; int64_t r_cs; int64_t r_ss;
    int64_t r_ds; int64_t r_es; int64_t r_fs; int64_t r_gs;
};

/* libc entry points (sys/kern/syscalls.master prototypes, libc's exported names). */
ssize_t read(int, void *, size_t);
ssize_t write(int, const void *, size_t);
int openat(int, const char *, int, ...);
int close(int);
int getpid(void);
int fstat(int, struct stat *);
int fstatat(int, const char *, struct stat *, int);
int kqueue(void);
int kevent(int, const struct kevent *, int, struct kevent *, int, const struct timespec *);
int pipe2(int *, int);
int poll(struct pollfd *, unsigned int, int);
int unlinkat(int, const char *, int);
int mkdirat(int, const char *, unsigned int);
int ptrace(int, int, void *, int);
int futex(volatile uint32_t *, int, int, const struct timespec *, volatile uint32_t *);
