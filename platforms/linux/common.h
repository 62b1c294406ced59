/* Linux structs whose layout is the same on every arch once C's long and pointer
 * sizes are applied. Declarations follow the kernel's uapi headers (Linux 6.1):
 * linux/time_types.h, linux/uio.h, asm-generic/poll.h, linux/dirent (linux_dirent64),
 * linux/stat.h (statx), linux/socket.h, linux/in.h, linux/in6.h, linux/un.h,
 * linux/signalfd.h, linux/inotify.h, linux/time.h, linux/resource.h, linux/utsname.h,
 * linux/openat2.h, linux/sched.h (clone_args), linux/futex.h, linux/capability.h,
 * linux/sem.h, asm-generic/signal.h (stack_t), asm-generic/siginfo.h (sigval, sigevent:
 * SIGEV_MAX_SIZE 64 bytes; sigev_notify_thread_id is _sigev_un._tid). Checked against
 * the host's headers by tests/test_layout_linux.py. linux/ptrace.h: ptrace_syscall_info.
 * linux/futex.h: robust_list, robust_list_head (set_robust_list).
 * Process, memory and security calls: linux/rseq.h, linux/sched/types.h (sched_attr),
 * linux/filter.h (sock_filter, sock_fprog), linux/seccomp.h (seccomp_data), linux/bpf.h
 * (bpf_insn), linux/landlock.h, linux/userfaultfd.h, linux/mqueue.h,
 * linux/perf_event.h. Bit fields are declared as the headers do (C has no offsetof for
 * them: the layout check sees their struct's size). */

/* asm-generic/statfs.h: words of C's long on every arch here (i386: 32-bit). */
struct statfs {
    long f_type; long f_bsize; long f_blocks; long f_bfree; long f_bavail; long f_files;
    long f_ffree; int f_fsid[2]; long f_namelen; long f_frsize; long f_flags;
    long f_spare[4];
};
struct __kernel_timespec { int64_t tv_sec; int64_t tv_nsec; };
struct timeval { long tv_sec; long tv_usec; };
struct timezone { int tz_minuteswest; int tz_dsttime; };
/* struct timespec is declared by word size: lp64.h (long is 64 bits: the kernel's
 * __kernel_timespec) and i386.h (the 64-bit __kernel_timespec, whose calls are the
 * *_time64 variants there). itimerspec, made of it, is then __kernel_itimerspec. */
struct itimerspec { struct timespec it_interval; struct timespec it_value; };
struct itimerval { struct timeval it_interval; struct timeval it_value; };
struct tms { long tms_utime; long tms_stime; long tms_cutime; long tms_cstime; };

struct iovec { void *iov_base; size_t iov_len; };
struct pollfd { int fd; short events; short revents; };
struct linux_dirent64 {
    uint64_t d_ino; int64_t d_off; unsigned short d_reclen; unsigned char d_type;
    char d_name[];
};
struct f_owner_ex { int type; int pid; };

struct statx_timestamp { int64_t tv_sec; uint32_t tv_nsec; int32_t __reserved; };
struct statx {
    uint32_t stx_mask; uint32_t stx_blksize; uint64_t stx_attributes;
    uint32_t stx_nlink; uint32_t stx_uid; uint32_t stx_gid; uint16_t stx_mode;
    uint16_t __spare0[1];
    uint64_t stx_ino; uint64_t stx_size; uint64_t stx_blocks; uint64_t stx_attributes_mask;
    struct statx_timestamp stx_atime; struct statx_timestamp stx_btime;
    struct statx_timestamp stx_ctime; struct statx_timestamp stx_mtime;
    uint32_t stx_rdev_major; uint32_t stx_rdev_minor;
    uint32_t stx_dev_major; uint32_t stx_dev_minor;
    uint64_t stx_mnt_id; uint32_t stx_dio_mem_align; uint32_t stx_dio_offset_align;
    uint64_t __spare3[12];
};

struct rlimit { unsigned long rlim_cur; unsigned long rlim_max; };
struct rlimit64 { uint64_t rlim_cur; uint64_t rlim_max; };
struct rusage {
    struct timeval ru_utime; struct timeval ru_stime;
    long ru_maxrss; long ru_ixrss; long ru_idrss; long ru_isrss; long ru_minflt;
    long ru_majflt; long ru_nswap; long ru_inblock; long ru_oublock; long ru_msgsnd;
    long ru_msgrcv; long ru_nsignals; long ru_nvcsw; long ru_nivcsw;
};
struct new_utsname {
    char sysname[65]; char nodename[65]; char release[65]; char version[65];
    char machine[65]; char domainname[65];
};

struct sockaddr { unsigned short sa_family; char sa_data[14]; };
struct in_addr { uint32_t s_addr; };
struct sockaddr_in {
    unsigned short sin_family; uint16_t sin_port; struct in_addr sin_addr;
    unsigned char sin_zero[8];
};
struct in6_addr { uint8_t s6_addr[16]; };
struct sockaddr_in6 {
    unsigned short sin6_family; uint16_t sin6_port; uint32_t sin6_flowinfo;
    struct in6_addr sin6_addr; uint32_t sin6_scope_id;
};
struct sockaddr_un { unsigned short sun_family; char sun_path[108]; };
struct msghdr {
    void *msg_name; int msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
    void *msg_control; size_t msg_controllen; unsigned int msg_flags;
};
struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };
struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; };
struct linger { int l_onoff; int l_linger; };
struct ucred { int pid; unsigned int uid; unsigned int gid; };

struct signalfd_siginfo {
    uint32_t ssi_signo; int32_t ssi_errno; int32_t ssi_code; uint32_t ssi_pid;
    uint32_t ssi_uid; int32_t ssi_fd; uint32_t ssi_tid; uint32_t ssi_band;
    uint32_t ssi_overrun; uint32_t ssi_trapno; int32_t ssi_status; int32_t ssi_int;
    uint64_t ssi_ptr; uint64_t ssi_utime; uint64_t ssi_stime; uint64_t ssi_addr;
    uint16_t ssi_addr_lsb; uint16_t __pad2; int32_t ssi_syscall; uint64_t ssi_call_addr;
    uint32_t ssi_arch; uint8_t __pad[28];
};
struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[]; };
typedef struct { void *ss_sp; int ss_flags; size_t ss_size; } stack_t;

struct open_how { uint64_t flags; uint64_t mode; uint64_t resolve; };
struct clone_args {
    uint64_t flags; uint64_t pidfd; uint64_t child_tid; uint64_t parent_tid;
    uint64_t exit_signal; uint64_t stack; uint64_t stack_size; uint64_t tls;
    uint64_t set_tid; uint64_t set_tid_size; uint64_t cgroup;
};
struct futex_waitv { uint64_t val; uint64_t uaddr; uint32_t flags; uint32_t __reserved; };
struct robust_list { struct robust_list *next; };
struct robust_list_head {
    struct robust_list list; long futex_offset; struct robust_list *list_op_pending;
};
struct __user_cap_header_struct { uint32_t version; int pid; };
struct __user_cap_data_struct { uint32_t effective; uint32_t permitted; uint32_t inheritable; };
struct sembuf { unsigned short sem_num; short sem_op; short sem_flg; };
/* linux/msg.h, linux/sem.h, linux/shm.h, asm-generic/shmbuf.h: what IPC_INFO and
 * MSG_INFO, SEM_INFO, SHM_INFO fill (x86's shmbuf.h takes the generic one). */
struct msginfo {
    int msgpool; int msgmap; int msgmax; int msgmnb; int msgmni; int msgssz; int msgtql;
    unsigned short msgseg;
};
struct seminfo {
    int semmap; int semmni; int semmns; int semmnu; int semmsl; int semopm; int semume;
    int semusz; int semvmx; int semaem;
};
struct shm_info {
    int used_ids; unsigned long shm_tot; unsigned long shm_rss; unsigned long shm_swp;
    unsigned long swap_attempts; unsigned long swap_successes;
};
struct shminfo64 {
    unsigned long shmmax; unsigned long shmmin; unsigned long shmmni; unsigned long shmseg;
    unsigned long shmall; unsigned long __unused1; unsigned long __unused2;
    unsigned long __unused3; unsigned long __unused4;
};
struct sched_param { int sched_priority; };

union sigval { int sival_int; void *sival_ptr; };
struct sigevent {
    union sigval sigev_value; int sigev_signo; int sigev_notify;
    union { int _pad[12]; int _tid; } _sigev_un;
};

/* linux/ptrace.h: what PTRACE_GET_SYSCALL_INFO fills (Linux >= 5.3). */
struct ptrace_syscall_info {
    uint8_t op; uint8_t pad[3]; uint32_t arch;
    uint64_t instruction_pointer; uint64_t stack_pointer;
    union {
        struct { uint64_t nr; uint64_t args[6]; } entry;
        struct { int64_t rval; uint8_t is_error; } exit;
        struct { uint64_t nr; uint64_t args[6]; uint32_t ret_data; } seccomp;
    };
};

/* linux/rseq.h (6.1): the header aligns it to 32 bytes, which cffi cannot say; the
 * padding gives the same 32-byte size, and callers align the memory themselves. */
struct rseq {
    uint32_t cpu_id_start; uint32_t cpu_id; uint64_t rseq_cs; uint32_t flags;
    uint32_t __pad[3];
};
struct sched_attr {
    uint32_t size; uint32_t sched_policy; uint64_t sched_flags; int32_t sched_nice;
    uint32_t sched_priority; uint64_t sched_runtime; uint64_t sched_deadline;
    uint64_t sched_period; uint32_t sched_util_min; uint32_t sched_util_max;
};

/* Classic BPF, as seccomp and SO_ATTACH_FILTER take it; seccomp's view of a syscall. */
struct sock_filter { uint16_t code; uint8_t jt; uint8_t jf; uint32_t k; };
struct sock_fprog { unsigned short len; struct sock_filter *filter; };
struct seccomp_data {
    int nr; uint32_t arch; uint64_t instruction_pointer; uint64_t args[6];
};
/* Extended BPF: one instruction (bpf(BPF_PROG_LOAD)). */
struct bpf_insn {
    uint8_t code; uint8_t dst_reg:4; uint8_t src_reg:4; int16_t off; int32_t imm;
};

/* linux/landlock.h (6.1: file-system access only). landlock_path_beneath_attr is packed:
 * common-packed.h. */
struct landlock_ruleset_attr { uint64_t handled_access_fs; };

/* linux/userfaultfd.h. uffd_msg is __packed in the header, but every member sits at its
 * natural alignment, so the plain layout is the same 32 bytes. */
struct uffdio_api { uint64_t api; uint64_t features; uint64_t ioctls; };
struct uffdio_range { uint64_t start; uint64_t len; };
struct uffdio_register { struct uffdio_range range; uint64_t mode; uint64_t ioctls; };
struct uffdio_copy { uint64_t dst; uint64_t src; uint64_t len; uint64_t mode; int64_t copy; };
struct uffdio_zeropage { struct uffdio_range range; uint64_t mode; int64_t zeropage; };
struct uffd_msg {
    uint8_t event; uint8_t reserved1; uint16_t reserved2; uint32_t reserved3;
    union {
        struct { uint64_t flags; uint64_t address; union { uint32_t ptid; } feat; } pagefault;
        struct { uint32_t ufd; } fork;
        struct { uint64_t from; uint64_t to; uint64_t len; } remap;
        struct { uint64_t start; uint64_t end; } remove;
        struct { uint64_t reserved1; uint64_t reserved2; uint64_t reserved3; } reserved;
    } arg;
};

/* linux/mqueue.h: __kernel_long_t is C's long on every arch here. */
struct mq_attr {
    long mq_flags; long mq_maxmsg; long mq_msgsize; long mq_curmsgs; long __reserved[4];
};

/* linux/perf_event.h, up to PERF_ATTR_SIZE_VER7 (128 bytes, Linux 6.1). */
struct perf_event_attr {
    uint32_t type; uint32_t size; uint64_t config;
    union { uint64_t sample_period; uint64_t sample_freq; };
    uint64_t sample_type; uint64_t read_format;
    uint64_t disabled:1, inherit:1, pinned:1, exclusive:1, exclude_user:1,
        exclude_kernel:1, exclude_hv:1, exclude_idle:1, mmap:1, comm:1, freq:1,
        inherit_stat:1, enable_on_exec:1, task:1, watermark:1, precise_ip:2, mmap_data:1,
        sample_id_all:1, exclude_host:1, exclude_guest:1, exclude_callchain_kernel:1,
        exclude_callchain_user:1, mmap2:1, comm_exec:1, use_clockid:1, context_switch:1,
        write_backward:1, namespaces:1, ksymbol:1, bpf_event:1, aux_output:1, cgroup:1,
        text_poke:1, build_id:1, inherit_thread:1, remove_on_exec:1, sigtrap:1,
        __reserved_1:26;
    union { uint32_t wakeup_events; uint32_t wakeup_watermark; };
    uint32_t bp_type;
    union { uint64_t bp_addr; uint64_t kprobe_func; uint64_t uprobe_path; uint64_t config1; };
    union { uint64_t bp_len; uint64_t kprobe_addr; uint64_t probe_offset; uint64_t config2; };
    uint64_t branch_sample_type; uint64_t sample_regs_user; uint32_t sample_stack_user;
    int32_t clockid; uint64_t sample_regs_intr; uint32_t aux_watermark;
    uint16_t sample_max_stack; uint16_t __reserved_2; uint32_t aux_sample_size;
    uint32_t __reserved_3; uint64_t sig_data;
};

/* ttys: asm-generic/termbits.h's struct termios is what TCGETS/TCSETS copy (not the C
 * library's, whose c_cc is longer and has speeds after it); asm-generic/termios.h. */
struct termios {
    unsigned int c_iflag; unsigned int c_oflag; unsigned int c_cflag; unsigned int c_lflag;
    unsigned char c_line; unsigned char c_cc[19];
};
struct winsize {
    unsigned short ws_row; unsigned short ws_col;
    unsigned short ws_xpixel; unsigned short ws_ypixel;
};

/* linux/utime.h (utime), include/linux/fs.h (file handles, as glibc's <fcntl.h> has it). */
struct utimbuf { long actime; long modtime; };
struct file_handle { unsigned int handle_bytes; int handle_type; unsigned char f_handle[]; };

/* linux/fanotify.h: mask is an __aligned_u64, 8-aligned on i386 too (24 bytes). */
struct fanotify_event_metadata {
    uint32_t event_len; uint8_t vers; uint8_t reserved; uint16_t metadata_len;
    uint64_t mask; int32_t fd; int32_t pid;
};
struct fanotify_event_info_header { uint8_t info_type; uint8_t pad; uint16_t len; };
struct fanotify_event_info_fid {
    struct fanotify_event_info_header hdr; struct { int val[2]; } fsid;
    unsigned char handle[];
};

/* linux/aio_abi.h (little-endian field order: aio_key before aio_rw_flags). */
struct iocb {
    uint64_t aio_data; uint32_t aio_key; int aio_rw_flags;
    uint16_t aio_lio_opcode; int16_t aio_reqprio; uint32_t aio_fildes;
    uint64_t aio_buf; uint64_t aio_nbytes; int64_t aio_offset;
    uint64_t aio_reserved2; uint32_t aio_flags; uint32_t aio_resfd;
};
struct io_event { uint64_t data; uint64_t obj; int64_t res; int64_t res2; };

/* linux/io_uring.h: the 64-byte SQE (the unions the suite uses), the CQE without
 * IORING_SETUP_CQE32's extra words, ring offsets, params, probe. */
struct io_uring_sqe {
    uint8_t opcode; uint8_t flags; uint16_t ioprio; int32_t fd;
    union { uint64_t off; uint64_t addr2; };
    union { uint64_t addr; uint64_t splice_off_in; };
    uint32_t len;
    union { uint32_t rw_flags; uint32_t fsync_flags; uint32_t open_flags; };
    uint64_t user_data;
    uint16_t buf_index; uint16_t personality;
    union { int32_t splice_fd_in; uint32_t file_index; };
    uint64_t addr3; uint64_t __pad2[1];
};
struct io_uring_cqe { uint64_t user_data; int32_t res; uint32_t flags; };
struct io_sqring_offsets {
    uint32_t head; uint32_t tail; uint32_t ring_mask; uint32_t ring_entries;
    uint32_t flags; uint32_t dropped; uint32_t array; uint32_t resv1; uint64_t resv2;
};
struct io_cqring_offsets {
    uint32_t head; uint32_t tail; uint32_t ring_mask; uint32_t ring_entries;
    uint32_t overflow; uint32_t cqes; uint32_t flags; uint32_t resv1; uint64_t resv2;
};
struct io_uring_params {
    uint32_t sq_entries; uint32_t cq_entries; uint32_t flags; uint32_t sq_thread_cpu;
    uint32_t sq_thread_idle; uint32_t features; uint32_t wq_fd; uint32_t resv[3];
    struct io_sqring_offsets sq_off; struct io_cqring_offsets cq_off;
};
struct io_uring_probe_op { uint8_t op; uint8_t resv; uint16_t flags; uint32_t resv2; };
struct io_uring_probe {
    uint8_t last_op; uint8_t ops_len; uint16_t resv; uint32_t resv2[3];
    struct io_uring_probe_op ops[];
};

/* linux/mount.h: mount_setattr's argument (MOUNT_ATTR_SIZE_VER0 bytes). */
struct mount_attr { uint64_t attr_set; uint64_t attr_clr; uint64_t propagation; uint64_t userns_fd; };
