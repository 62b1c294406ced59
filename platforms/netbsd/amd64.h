/* NetBSD amd64 struct layouts, from the NetBSD 7.99.34 tree amd64.toml was made from
 * (rumpkernel/src-netbsd 82f3a69): sys/sys/stat.h (struct stat as __stat50 fills it;
 * dev_t and ino_t 64-bit), sys/sys/event.h (struct kevent as __kevent50 takes it: 32-bit
 * filter and flags, intptr_t udata; NetBSD 10's __kevent100 adds ext[4]),
 * sys/sys/time.h (suseconds_t is int), sys/sys/poll.h, sys/sys/uio.h, sys/sys/socket.h,
 * netinet/in.h, netinet6/in6.h, sys/sys/un.h (BSD sockaddrs begin with a length byte),
 * arch/amd64/include/reg.h + frame_regs.h (struct reg for PT_GETREGS: 26 registers in
 * _FRAME_REG order). */

struct timeval { int64_t tv_sec; int tv_usec; };
/* sys/sys/time.h, sys/sys/resource.h (rlim_t is uint64_t), sys/sys/fcntl.h (struct
 * flock: offsets first, unlike Linux), sys/sys/socket.h (socklen_t is unsigned int). */
struct timezone { int tz_minuteswest; int tz_dsttime; };
struct itimerval { struct timeval it_interval; struct timeval it_value; };
struct rlimit { uint64_t rlim_cur; uint64_t rlim_max; };
struct rusage {
    struct timeval ru_utime; struct timeval ru_stime;
    long ru_maxrss; long ru_ixrss; long ru_idrss; long ru_isrss; long ru_minflt;
    long ru_majflt; long ru_nswap; long ru_inblock; long ru_oublock; long ru_msgsnd;
    long ru_msgrcv; long ru_nsignals; long ru_nvcsw; long ru_nivcsw;
};
struct flock { int64_t l_start; int64_t l_len; int32_t l_pid; short l_type; short l_whence; };
struct msghdr {
    void *msg_name; unsigned int msg_namelen; struct iovec *msg_iov; int msg_iovlen;
    void *msg_control; unsigned int msg_controllen; int msg_flags;
};
struct cmsghdr { unsigned int cmsg_len; int cmsg_level; int cmsg_type; };
struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };  /* sys/sys/socket.h */
struct stat {
    uint64_t st_dev; uint32_t st_mode; uint64_t st_ino; uint32_t st_nlink;
    uint32_t st_uid; uint32_t st_gid; uint64_t st_rdev;
    /* Each time is also readable by Linux's field names (st_atime, st_atime_nsec):
     * the same bytes, so the suites read stat times one way on every OS. */
    union { struct timespec st_atim; struct { int64_t st_atime; long st_atime_nsec; }; };
    union { struct timespec st_mtim; struct { int64_t st_mtime; long st_mtime_nsec; }; };
    union { struct timespec st_ctim; struct { int64_t st_ctime; long st_ctime_nsec; }; };
    struct timespec st_birthtim;
    int64_t st_size; int64_t st_blocks; int32_t st_blksize; uint32_t st_flags;
    uint32_t st_gen; uint32_t st_spare[2];
};
struct kevent {
    uintptr_t ident; uint32_t filter; uint32_t flags; uint32_t fflags; int64_t data;
    intptr_t udata;
};
/* sys/sys/statvfs.h: statvfs1, fstatvfs1 and getvfsstat fill it; fsblkcnt_t and
 * fsfilcnt_t are 64-bit, fsid_t two int32_t. */
struct statvfs {
    unsigned long f_flag; unsigned long f_bsize; unsigned long f_frsize;
    unsigned long f_iosize;
    uint64_t f_blocks; uint64_t f_bfree; uint64_t f_bavail; uint64_t f_bresvd;
    uint64_t f_files; uint64_t f_ffree; uint64_t f_favail; uint64_t f_fresvd;
    uint64_t f_syncreads; uint64_t f_syncwrites; uint64_t f_asyncreads;
    uint64_t f_asyncwrites;
    int32_t f_fsidx[2]; unsigned long f_fsid; unsigned long f_namemax; uint32_t f_owner;
    uint32_t f_spare[4];
    char f_fstypename[32]; char f_mntonname[1024]; char f_mntfromname[1024];
};
struct reg {
    int64_t rdi; int64_t rsi; int64_t rdx; int64_t r10; int64_t r8; int64_t r9;
    int64_t rcx; int64_t r11; int64_t r12; int64_t r13; int64_t r14; int64_t r15;
    int64_t rbp; int64_t rbx; int64_t rax; int64_t gs; int64_t fs; int64_t es; int64_t ds;
    int64_t trapno; int64_t err; int64_t rip; int64_t cs; int64_t rflags; int64_t rsp;
    int64_t ss;
};

/* libc's versioned entry points, named in amd64.toml's [symbols] (the master file's
 * `int|sys|50|stat`-style names): Kernel calls these through libc, so each needs a
 * prototype. Argument types follow the prototypes in sys/kern/syscalls.master (NetBSD
 * 7.99.34, revision 1.285); structs the cdef does not lay out stay opaque. */
int __stat50(const char *, struct stat *);
int __fstat50(int, struct stat *);
int __lstat50(const char *, struct stat *);
int __fhstat50(const void *, size_t, struct stat *);
int __mknod50(const char *, unsigned int, uint64_t);
int __kevent50(int, const struct kevent *, size_t, struct kevent *, size_t,
               const struct timespec *);
int __clock_gettime50(int, struct timespec *);
int __clock_getres50(int, struct timespec *);
int __clock_settime50(int, const struct timespec *);
int __nanosleep50(const struct timespec *, struct timespec *);
int __gettimeofday50(struct timeval *, void *);
int __settimeofday50(const struct timeval *, const void *);
int __adjtime50(const struct timeval *, struct timeval *);
int __getitimer50(int, struct itimerval *);
int __setitimer50(int, const struct itimerval *, struct itimerval *);
int __timer_gettime50(int, struct itimerspec *);
int __timer_settime50(int, int, const struct itimerspec *, struct itimerspec *);
int __getrusage50(int, struct rusage *);
int __wait450(int, int *, int, struct rusage *);
int __socket30(int, int, int);
int __sigprocmask14(int, const void *, void *);
int __sigpending14(void *);
int __sigsuspend14(const void *);
int __sigaltstack14(const void *, void *);
int ____sigtimedwait50(const void *, void *, struct timespec *);
int __getdents30(int, char *, size_t);
int __select50(int, void *, void *, void *, struct timeval *);
int __pselect50(int, void *, void *, void *, const struct timespec *, const void *);
int __pollts50(struct pollfd *, unsigned int, const struct timespec *, const void *);
int __utimes50(const char *, const struct timeval *);
int __futimes50(int, const struct timeval *);
int __lutimes50(const char *, const struct timeval *);
int __msync13(void *, size_t, int);
int __posix_fadvise50(int, int, int64_t, int64_t, int);
int __vfork14(void);
int ___lwp_park60(int, int, struct timespec *, int, const void *, const void *);
int __shmctl50(int, int, void *);
int __msgctl50(int, int, void *);
int ____semctl50(int, int, int, ...);
int __mount50(const char *, const char *, int, void *, size_t);
int __fhopen40(const void *, size_t, int);
int __fhstatvfs140(const void *, size_t, void *, int);
int __getfh30(const char *, void *, size_t *);
int __lfs_segwait50(void *, struct timeval *);
int __mq_timedreceive50(int, char *, size_t, unsigned int *, const struct timespec *);
int __mq_timedsend50(int, const char *, size_t, unsigned int, const struct timespec *);
int __ntp_gettime50(void *);
int __aio_suspend50(const void *, int, const struct timespec *);
