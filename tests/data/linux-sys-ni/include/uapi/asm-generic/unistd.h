/* Sample in the format of asm-generic/unistd.h (not upstream text) */
#define __SC_3264(_nr, _32, _64) __SYSCALL(_nr, _64)
#define __NR_io_getevents 4
__SC_3264(__NR_io_getevents, sys_io_getevents_time32, sys_io_getevents)
#define __NR_epoll_pwait 22
__SC_COMP(__NR_epoll_pwait, sys_epoll_pwait, compat_sys_epoll_pwait)
#define __NR3264_fadvise64 223
__SC_COMP(__NR3264_fadvise64, sys_fadvise64_64, \
	  compat_sys_fadvise64_64)
#define __NR_openat 56
__SYSCALL(__NR_openat, sys_openat)
#define __NR_nfsservctl 42
__SYSCALL(__NR_nfsservctl, sys_ni_syscall)
