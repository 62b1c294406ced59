/* Linux aarch64 struct layouts (Linux 6.1 uapi): include/uapi/asm-generic/stat.h (arm64
 * takes the generic struct stat), arch/arm64/include/uapi/asm/ptrace.h (user_pt_regs,
 * what PTRACE_GETREGSET NT_PRSTATUS fills; glibc's <sys/user.h> calls the same layout
 * user_regs_struct); the 64-bit layouts every 64-bit arch shares are in lp64.h.
 * epoll_event is not packed here (EPOLL_PACKED is x86_64 only): 16 bytes. */

struct stat {
    unsigned long st_dev; unsigned long st_ino; unsigned int st_mode; unsigned int st_nlink;
    unsigned int st_uid; unsigned int st_gid; unsigned long st_rdev; unsigned long __pad1;
    long st_size; int st_blksize; int __pad2; long st_blocks;
    long st_atime; unsigned long st_atime_nsec; long st_mtime; unsigned long st_mtime_nsec;
    long st_ctime; unsigned long st_ctime_nsec; unsigned int __unused4; unsigned int __unused5;
};
struct user_pt_regs { uint64_t regs[31]; uint64_t sp; uint64_t pc; uint64_t pstate; };
struct user_regs_struct { uint64_t regs[31]; uint64_t sp; uint64_t pc; uint64_t pstate; };
struct epoll_event { uint32_t events; uint64_t data; };
/* include/uapi/asm-generic/sembuf.h with a 64-bit long (x86_64 pads it differently). */
struct semid64_ds {
    struct ipc64_perm sem_perm; long sem_otime; long sem_ctime; unsigned long sem_nsems;
    unsigned long __unused3; unsigned long __unused4;
};
