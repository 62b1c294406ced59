/* Linux x86_64 struct layouts: arch/x86/include/uapi/asm/stat.h, asm-generic/statfs.h,
 * arch/x86/include/asm/user_64.h (user_regs_struct, as <sys/user.h> exposes it),
 * asm-generic/siginfo.h (64-bit: the union starts at offset 16), linux/sysinfo.h.
 * epoll_event is packed on x86_64 only: see x86_64-packed.h. */

struct stat {
    unsigned long st_dev; unsigned long st_ino; unsigned long st_nlink;
    unsigned int st_mode; unsigned int st_uid; unsigned int st_gid; unsigned int __pad0;
    unsigned long st_rdev; long st_size; long st_blksize; long st_blocks;
    unsigned long st_atime; unsigned long st_atime_nsec;
    unsigned long st_mtime; unsigned long st_mtime_nsec;
    unsigned long st_ctime; unsigned long st_ctime_nsec;
    long __unused[3];
};
struct statfs {
    long f_type; long f_bsize; long f_blocks; long f_bfree; long f_bavail; long f_files;
    long f_ffree; int f_fsid[2]; long f_namelen; long f_frsize; long f_flags;
    long f_spare[4];
};
struct user_regs_struct {
    unsigned long r15; unsigned long r14; unsigned long r13; unsigned long r12;
    unsigned long rbp; unsigned long rbx; unsigned long r11; unsigned long r10;
    unsigned long r9; unsigned long r8; unsigned long rax; unsigned long rcx;
    unsigned long rdx; unsigned long rsi; unsigned long rdi; unsigned long orig_rax;
    unsigned long rip; unsigned long cs; unsigned long eflags; unsigned long rsp;
    unsigned long ss; unsigned long fs_base; unsigned long gs_base; unsigned long ds;
    unsigned long es; unsigned long fs; unsigned long gs;
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
/* System V shared memory, as IPC_STAT fills it on x86_64 (which always takes the IPC_64
 * layout): asm-generic/ipcbuf.h with x86_64's 32-bit __kernel_mode_t (so __pad1 has no
 * bytes), asm-generic/shmbuf.h for 64-bit longs. */
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
/* asm-generic/fcntl.h: struct flock, with this arch's long off_t (i386 declares flock64
 * under this name instead, see i386.h). */
struct flock { short l_type; short l_whence; long l_start; long l_len; int l_pid; };
