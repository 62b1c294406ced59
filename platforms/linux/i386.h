/* Linux i386 struct layouts (Linux 6.1 uapi): asm-generic/siginfo.h (32-bit: the union starts at offset 12,
 * 128 bytes in all), linux/sysinfo.h (with its 8 bytes of padding on 32-bit),
 * arch/x86/include/asm/user_32.h (user_regs_struct, by the names glibc's <sys/user.h>
 * gives them; struct user, the PTRACE_PEEKUSER area: u_debugreg at 252, as the
 * kernel's compat struct user32 in arch/x86/include/asm/user32.h has it too), asm-generic/ipcbuf.h + shmbuf.h + msgbuf.h and arch/x86/include/uapi/asm/sembuf.h (16-bit mode_t, split 64-bit times).
 * struct stat is the stat64 layout (i386-packed.h): the table's aliases send stat/fstat/
 * fstatat to stat64/fstat64/fstatat64, which fill it. epoll_event is 12 bytes here
 * without packing (uint64_t is 4-byte aligned in the i386 ABI). */

/* Time: struct timespec is the kernel's __kernel_timespec (linux/time_types.h), 64-bit
 * seconds, as glibc's with _TIME_BITS=64; i386-extra.toml sends the calls that take it
 * to their *_time64 variants (clock_gettime64, futex_time64, ...), so the suite's times
 * pass 2038 here too. struct itimerspec (common.h) is made of it. The 32-bit calls
 * (i386's own clock_gettime, ... : sys_*_time32 in syscall_32.tbl) take
 * include/vdso/time32.h's struct old_timespec32. struct timeval (select, setitimer,
 * getrusage, gettimeofday) stays 32-bit: those calls have no 64-bit-time variant. */
struct timespec { int64_t tv_sec; int64_t tv_nsec; };
struct old_timespec32 { int32_t tv_sec; int32_t tv_nsec; };

struct user_regs_struct {
    long ebx; long ecx; long edx; long esi; long edi; long ebp; long eax;
    long xds; long xes; long xfs; long xgs; long orig_eax; long eip; long xcs;
    long eflags; long esp; long xss;
};
struct user {
    struct user_regs_struct regs; int u_fpvalid; unsigned char __i387[108];
    unsigned long u_tsize; unsigned long u_dsize; unsigned long u_ssize;
    unsigned long start_code; unsigned long start_stack; long signal; int reserved;
    void *u_ar0; void *u_fpstate; unsigned long magic; char u_comm[32]; int u_debugreg[8];
};
typedef struct {
    int si_signo; int si_errno; int si_code;
    union {
        struct { int si_pid; unsigned int si_uid; int si_status; long si_utime; long si_stime; };
        struct { int __rt_pid; unsigned int __rt_uid; union sigval si_value; };  /* queued */
        struct { void *si_call_addr; int si_syscall; unsigned int si_arch; };  /* SIGSYS */
        char __rest[116];
    };
} siginfo_t;
struct sysinfo {
    long uptime; unsigned long loads[3]; unsigned long totalram; unsigned long freeram;
    unsigned long sharedram; unsigned long bufferram; unsigned long totalswap;
    unsigned long freeswap; unsigned short procs; unsigned short pad;
    unsigned long totalhigh; unsigned long freehigh; unsigned int mem_unit; char _f[8];
};
struct ipc64_perm {
    int key; unsigned int uid; unsigned int gid; unsigned int cuid; unsigned int cgid;
    unsigned short mode; unsigned char __pad1[2]; unsigned short seq; unsigned short __pad2;
    unsigned long __unused1; unsigned long __unused2;
};
struct shmid64_ds {
    struct ipc64_perm shm_perm; size_t shm_segsz;
    unsigned long shm_atime; unsigned long shm_atime_high;
    unsigned long shm_dtime; unsigned long shm_dtime_high;
    unsigned long shm_ctime; unsigned long shm_ctime_high;
    int shm_cpid; int shm_lpid; unsigned long shm_nattch;
    unsigned long __unused4; unsigned long __unused5;
};
struct msqid64_ds {
    struct ipc64_perm msg_perm;
    unsigned long msg_stime; unsigned long msg_stime_high;
    unsigned long msg_rtime; unsigned long msg_rtime_high;
    unsigned long msg_ctime; unsigned long msg_ctime_high;
    unsigned long msg_cbytes; unsigned long msg_qnum; unsigned long msg_qbytes;
    int msg_lspid; int msg_lrpid; unsigned long __unused4; unsigned long __unused5;
};
struct semid64_ds {
    struct ipc64_perm sem_perm;
    unsigned long sem_otime; unsigned long sem_otime_high;
    unsigned long sem_ctime; unsigned long sem_ctime_high;
    unsigned long sem_nsems; unsigned long __unused3; unsigned long __unused4;
};
struct epoll_event { uint32_t events; uint64_t data; };
/* asm-generic/fcntl.h struct flock64 (x86 adds no padding; long long is 4-byte aligned in
 * the i386 ABI: 24 bytes), under the name the suites use. The table sends fcntl to fcntl64
 * and F_GETLK/F_SETLK/F_SETLKW to their 64 variants (i386-extra.toml), as glibc does with
 * a 64-bit off_t: plain fcntl refuses the OFD commands on 32-bit (EINVAL), fcntl64 takes
 * them with this layout. */
struct flock { short l_type; short l_whence; int64_t l_start; int64_t l_len; int l_pid; };
/* arch/x86/include/uapi/asm/ldt.h: an LDT or TLS descriptor (modify_ldt,
 * set_thread_area). */
struct user_desc {
    unsigned int entry_number; unsigned int base_addr; unsigned int limit;
    unsigned int seg_32bit:1; unsigned int contents:2; unsigned int read_exec_only:1;
    unsigned int limit_in_pages:1; unsigned int seg_not_present:1; unsigned int useable:1;
};
/* linux/timex.h struct __kernel_timex, under the name the suites use: 64-bit fields with
 * explicit padding (208 bytes, the 64-bit layout), what clock_adjtime64 takes; the table
 * sends clock_adjtime there and syscalls/abi_i386.py sends adjtimex to
 * clock_adjtime64(CLOCK_REALTIME, ...), as glibc does with 64-bit time. */
struct timex {
    unsigned int modes; int __pad0; int64_t offset; int64_t freq; int64_t maxerror;
    int64_t esterror; int status; int __pad1; int64_t constant; int64_t precision;
    int64_t tolerance; struct { int64_t tv_sec; int64_t tv_usec; } time; int64_t tick;
    int64_t ppsfreq; int64_t jitter; int shift; int __pad2; int64_t stabil; int64_t jitcnt;
    int64_t calcnt; int64_t errcnt; int64_t stbcnt; int tai; int __reserved[11];
};
