/* Linux riscv64 struct layouts (Linux 6.1 uapi): include/uapi/asm-generic/stat.h (riscv
 * takes the generic struct stat), asm-generic/statfs.h (64-bit words),
 * asm-generic/siginfo.h (64-bit: the union starts at offset 16), linux/sysinfo.h,
 * arch/riscv/include/uapi/asm/ptrace.h (user_regs_struct: pc, then x1..x31 by ABI name,
 * what PTRACE_GETREGSET NT_PRSTATUS fills),
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
struct user_regs_struct {
    unsigned long pc; unsigned long ra; unsigned long sp; unsigned long gp; unsigned long tp;
    unsigned long t0; unsigned long t1; unsigned long t2; unsigned long s0; unsigned long s1;
    unsigned long a0; unsigned long a1; unsigned long a2; unsigned long a3; unsigned long a4;
    unsigned long a5; unsigned long a6; unsigned long a7; unsigned long s2; unsigned long s3;
    unsigned long s4; unsigned long s5; unsigned long s6; unsigned long s7; unsigned long s8;
    unsigned long s9; unsigned long s10; unsigned long s11; unsigned long t3; unsigned long t4;
    unsigned long t5; unsigned long t6;
};
/* asm-generic/fcntl.h: struct flock, with this arch's long off_t (i386 declares flock64
 * under this name instead, see i386.h). */
struct flock { short l_type; short l_whence; long l_start; long l_len; int l_pid; };
