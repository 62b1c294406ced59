/* Linux aarch64 struct layouts (Linux 6.1 uapi): include/uapi/asm-generic/stat.h (arm64
 * takes the generic struct stat), asm-generic/statfs.h (64-bit words),
 * asm-generic/siginfo.h (64-bit: the union starts at offset 16), linux/sysinfo.h,
 * arch/arm64/include/uapi/asm/ptrace.h (user_pt_regs, what PTRACE_GETREGSET NT_PRSTATUS
 * fills; glibc's <sys/user.h> calls the same layout user_regs_struct),
 * asm-generic/ipcbuf.h + shmbuf.h (64-bit, 32-bit mode_t).
 * epoll_event is not packed here (EPOLL_PACKED is x86_64 only): 16 bytes. */

struct stat {
    unsigned long st_dev; unsigned long st_ino; unsigned int st_mode; unsigned int st_nlink;
    unsigned int st_uid; unsigned int st_gid; unsigned long st_rdev; unsigned long __pad1;
    long st_size; int st_blksize; int __pad2; long st_blocks;
    long st_atime; unsigned long st_atime_nsec; long st_mtime; unsigned long st_mtime_nsec;
    long st_ctime; unsigned long st_ctime_nsec; unsigned int __unused4; unsigned int __unused5;
};
struct statfs {
    long f_type; long f_bsize; long f_blocks; long f_bfree; long f_bavail; long f_files;
    long f_ffree; int f_fsid[2]; long f_namelen; long f_frsize; long f_flags;
    long f_spare[4];
};
struct user_pt_regs { uint64_t regs[31]; uint64_t sp; uint64_t pc; uint64_t pstate; };
struct user_regs_struct { uint64_t regs[31]; uint64_t sp; uint64_t pc; uint64_t pstate; };
typedef struct {
    int si_signo; int si_errno; int si_code; int __pad0;
    int si_pid; unsigned int si_uid; int si_status; int __pad1;
    long si_utime; long si_stime; char __rest[80];
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
struct epoll_event { uint32_t events; uint64_t data; };
/* asm-generic/fcntl.h: struct flock, with this arch's long off_t (i386 declares flock64
 * under this name instead, see i386.h). */
struct flock { short l_type; short l_whence; long l_start; long l_len; int l_pid; };
