/* Linux x86_64 struct layouts: arch/x86/include/uapi/asm/stat.h,
 * arch/x86/include/asm/user_64.h (user_regs_struct, as <sys/user.h> exposes it, and
 * struct user, the area PTRACE_PEEKUSER/POKEUSER address, up to u_debugreg as glibc
 * declares it: the kernel's has error_code and fault_address after, 928 bytes),
 * arch/x86/include/uapi/asm/sembuf.h (x86_64 pads each time; the generic one does not); the
 * 64-bit layouts every 64-bit arch shares are in lp64.h. epoll_event is packed on x86_64
 * only: see x86_64-packed.h. */

struct stat {
    unsigned long st_dev; unsigned long st_ino; unsigned long st_nlink;
    unsigned int st_mode; unsigned int st_uid; unsigned int st_gid; unsigned int __pad0;
    unsigned long st_rdev; long st_size; long st_blksize; long st_blocks;
    unsigned long st_atime; unsigned long st_atime_nsec;
    unsigned long st_mtime; unsigned long st_mtime_nsec;
    unsigned long st_ctime; unsigned long st_ctime_nsec;
    long __unused[3];
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
struct user {
    struct user_regs_struct regs; int u_fpvalid; int __pad0; unsigned char __i387[512];
    unsigned long u_tsize; unsigned long u_dsize; unsigned long u_ssize;
    unsigned long start_code; unsigned long start_stack; long signal; int reserved;
    int __pad1; void *u_ar0; void *u_fpstate; unsigned long magic; char u_comm[32];
    unsigned long u_debugreg[8];
};
/* arch/x86/include/uapi/asm/ldt.h: an LDT or TLS descriptor (modify_ldt,
 * set_thread_area); lm is x86_64's alone. */
struct user_desc {
    unsigned int entry_number; unsigned int base_addr; unsigned int limit;
    unsigned int seg_32bit:1; unsigned int contents:2; unsigned int read_exec_only:1;
    unsigned int limit_in_pages:1; unsigned int seg_not_present:1; unsigned int useable:1;
    unsigned int lm:1;
};
struct semid64_ds {
    struct ipc64_perm sem_perm; long sem_otime; unsigned long __unused1; long sem_ctime;
    unsigned long __unused2; unsigned long sem_nsems; unsigned long __unused3;
    unsigned long __unused4;
};
