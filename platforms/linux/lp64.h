/* Linux struct layouts shared by the 64-bit arches (x86_64, aarch64, riscv64: 64-bit
 * long, 32-bit __kernel_mode_t), listed in each one's <arch>-extra.toml; i386 declares
 * its own in i386.h. Linux 6.1 uapi: asm-generic/siginfo.h (the union starts at offset
 * 16; _sigchld's fields, and _sigsys's for a seccomp SIGSYS), linux/sysinfo.h, asm-generic/ipcbuf.h + asm-generic/shmbuf.h + asm-generic/msgbuf.h
 * (IPC_STAT's IPC_64 layout; 32-bit mode_t, so __pad1 has no bytes), asm-generic/fcntl.h (struct flock with
 * a long off_t), linux/time_types.h (struct timespec: with a 64-bit long it is the
 * kernel's __kernel_timespec, which every time call takes on these arches). */

struct timespec { long tv_sec; long tv_nsec; };
typedef struct {
    int si_signo; int si_errno; int si_code; int __pad0;
    union {
        struct {
            int si_pid; unsigned int si_uid; int si_status; int __pad1;
            long si_utime; long si_stime;
        };
        struct { int __rt_pid; unsigned int __rt_uid; union sigval si_value; };  /* queued */
        struct { void *si_call_addr; int si_syscall; unsigned int si_arch; };  /* SIGSYS */
        char __rest[112];
    };
} siginfo_t;
struct sysinfo {
    long uptime; unsigned long loads[3]; unsigned long totalram; unsigned long freeram;
    unsigned long sharedram; unsigned long bufferram; unsigned long totalswap;
    unsigned long freeswap; unsigned short procs; unsigned short pad;
    unsigned long totalhigh; unsigned long freehigh; unsigned int mem_unit;
};
struct ipc64_perm {
    int key; unsigned int uid; unsigned int gid; unsigned int cuid; unsigned int cgid;
    unsigned int mode; unsigned short seq; unsigned short __pad2;
    unsigned long __unused1; unsigned long __unused2;
};
struct shmid64_ds {
    struct ipc64_perm shm_perm; size_t shm_segsz; long shm_atime; long shm_dtime;
    long shm_ctime; int shm_cpid; int shm_lpid; unsigned long shm_nattch;
    unsigned long __unused4; unsigned long __unused5;
};
struct msqid64_ds {
    struct ipc64_perm msg_perm; long msg_stime; long msg_rtime; long msg_ctime;
    unsigned long msg_cbytes; unsigned long msg_qnum; unsigned long msg_qbytes;
    int msg_lspid; int msg_lrpid; unsigned long __unused4; unsigned long __unused5;
};
struct flock { short l_type; short l_whence; long l_start; long l_len; int l_pid; };
/* linux/timex.h struct timex (adjtimex, clock_adjtime): with a 64-bit long it is the
 * kernel's __kernel_timex; the eleven trailing `int :32` are spelt __reserved. */
struct timex {
    unsigned int modes; long offset; long freq; long maxerror; long esterror; int status;
    long constant; long precision; long tolerance; struct timeval time; long tick;
    long ppsfreq; long jitter; int shift; long stabil; long jitcnt; long calcnt;
    long errcnt; long stbcnt; int tai; int __reserved[11];
};
