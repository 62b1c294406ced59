/* OpenBSD amd64 struct layouts, from the OpenBSD 8.0 tree amd64.toml was made from
 * (bluhm/sys 14639db, 2026-08-19): sys/sys/stat.h (mode before dev; dev_t 32-bit,
 * ino_t 64-bit), sys/sys/event.h (short filter, unsigned short flags, void *udata),
 * sys/sys/_time.h, sys/sys/time.h, sys/sys/poll.h, sys/sys/uio.h, sys/sys/socket.h,
 * netinet/in.h, netinet6/in6.h, sys/sys/un.h, arch/amd64/include/reg.h (struct reg for
 * PT_GETREGS). Calls go through libc ([symbols]): OpenBSD has had no syscall(2) since
 * 7.5, so the functions the suites call are declared here too. */

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

/* More libc entry points the suites reach, with the argument types of
 * sys/kern/syscalls.master (revision 1.273) spelled as their amd64 widths
 * (off_t int64_t, pid_t int, uid_t/gid_t/mode_t/socklen_t unsigned int, dev_t int32_t;
 * sets and structs this file does not lay out passed as void *). */
int fcntl(int, int, void *);
int64_t lseek(int, int64_t, int);
int kill(int, int);
int connect(int, const struct sockaddr *, unsigned int);
int socket(int, int, int);
void * mmap(void *, size_t, int, int, int, int64_t);
int bind(int, const struct sockaddr *, unsigned int);
unsigned int umask(unsigned int);
int wait4(int, int *, int, struct rusage *);
int flock(int, int);
int accept4(int, struct sockaddr *, unsigned int *, int);
ssize_t recvfrom(int, void *, size_t, int, struct sockaddr *, unsigned int *);
int ftruncate(int, int64_t);
int clock_gettime(int, struct timespec *);
int utimensat(int, const char *, const struct timespec *, int);
int semop(int, void *, size_t);
ssize_t pwrite(int, const void *, size_t, int64_t);
int mprotect(void *, size_t, int);
int select(int, void *, void *, void *, struct timeval *);
ssize_t pread(int, void *, size_t, int64_t);
ssize_t sendto(int, const void *, size_t, int, const struct sockaddr *, unsigned int);
int munmap(void *, size_t);
int madvise(void *, size_t, int);
int setsockopt(int, int, int, const void *, unsigned int);
int setpgid(int, int);
int setitimer(int, const struct itimerval *, struct itimerval *);
int msync(void *, size_t, int);
int getpgid(int);
int symlinkat(const char *, int, const char *);
int shmget(long, size_t, int);
int ppoll(struct pollfd *, unsigned int, const struct timespec *, const void *);
int mknodat(int, const char *, unsigned int, int32_t);
int fchownat(int, const char *, unsigned int, unsigned int, int);
int faccessat(int, const char *, int, int);
int dup(int);
int setpriority(int, unsigned int, int);
ssize_t readlinkat(int, const char *, char *, size_t);
int mount(const char *, const char *, int, void *);
int mlock(const void *, size_t);
int listen(int, int);
int getsockopt(int, int, int, void *, unsigned int *);
int getsid(int);
int getgroups(int, unsigned int *);
int dup3(int, int, int);
int chroot(const char *);
int statfs(const char *, void *);
int shutdown(int, int);
int setuid(unsigned int);
int setsid(void);
int rmdir(const char *);
int nanosleep(const struct timespec *, struct timespec *);
int getrlimit(int, struct rlimit *);
int getpriority(int, unsigned int);
int getppid(void);
int __getcwd(char *, size_t);
int fsync(int);
int dup2(int, int);
int chdir(const char *);
ssize_t writev(int, const struct iovec *, int);
int socketpair(int, int, int, int *);
int sigaltstack(const void *, void *);
int renameat(int, const char *, int, const char *);
ssize_t recvmsg(int, struct msghdr *, int);
int recvmmsg(int, struct mmsghdr *, unsigned int, int, struct timespec *);
ssize_t readv(int, const struct iovec *, int);
int munlock(const void *, size_t);
int mlockall(int);
int linkat(int, const char *, int, const char *, int);
int getsockname(int, struct sockaddr *, unsigned int *);
int getrusage(int, struct rusage *);
int getitimer(int, struct itimerval *);
int getdents(int, void *, size_t);
int fstatfs(int, void *);
int fchmodat(int, const char *, unsigned int, int);
int fchmod(int, unsigned int);
int clock_getres(int, struct timespec *);
int waitid(int, unsigned int, void *, int);
int truncate(const char *, int64_t);
int shmdt(const void *);
int shmctl(int, int, void *);
void * shmat(int, const void *, int);
int setrlimit(int, const struct rlimit *);
int sendmmsg(int, struct mmsghdr *, unsigned int, int);
int semget(long, int, int);
int sched_yield(void);
int msgrcv(int, void *, size_t, long, int);
int gettimeofday(struct timeval *, void *);
int getresuid(unsigned int *, unsigned int *, unsigned int *);
int getpeername(int, struct sockaddr *, unsigned int *);
int fchdir(int);
int execve(const char *, char * const *, char * const *);
int clock_settime(int, const struct timespec *);
int access(const char *, int);
int unlink(const char *);
int symlink(const char *, const char *);
int stat(const char *, struct stat *);
int setresuid(unsigned int, unsigned int, unsigned int);
int setgroups(int, const unsigned int *);
int setgid(unsigned int);
ssize_t sendmsg(int, const struct msghdr *, int);
int rename(const char *, const char *);
ssize_t readlink(const char *, char *, size_t);
ssize_t preadv(int, const struct iovec *, int, int64_t);
int pipe(int *);
int munlockall(void);
int msgsnd(int, const void *, size_t, int);
int msgget(long, int);
int mkdir(const char *, unsigned int);
int lstat(const char *, struct stat *);
int link(const char *, const char *);
unsigned int getuid(void);
unsigned int getgid(void);
unsigned int geteuid(void);
unsigned int getegid(void);
int fork(void);
int fchown(int, unsigned int, unsigned int);
int chmod(const char *, unsigned int);
