/* Linux riscv64 struct layouts (Linux 6.1 uapi): include/uapi/asm-generic/stat.h (riscv
 * takes the generic struct stat), arch/riscv/include/uapi/asm/ptrace.h
 * (user_regs_struct: pc, then x1..x31 by ABI name, what PTRACE_GETREGSET NT_PRSTATUS
 * fills); the 64-bit layouts every 64-bit arch shares are in lp64.h.
 * epoll_event is not packed here (EPOLL_PACKED is x86_64 only): 16 bytes. */

struct stat {
    unsigned long st_dev; unsigned long st_ino; unsigned int st_mode; unsigned int st_nlink;
    unsigned int st_uid; unsigned int st_gid; unsigned long st_rdev; unsigned long __pad1;
    long st_size; int st_blksize; int __pad2; long st_blocks;
    long st_atime; unsigned long st_atime_nsec; long st_mtime; unsigned long st_mtime_nsec;
    long st_ctime; unsigned long st_ctime_nsec; unsigned int __unused4; unsigned int __unused5;
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
/* include/uapi/asm-generic/sembuf.h with a 64-bit long (x86_64 pads it differently). */
struct semid64_ds {
    struct ipc64_perm sem_perm; long sem_otime; long sem_ctime; unsigned long sem_nsems;
    unsigned long __unused3; unsigned long __unused4;
};
