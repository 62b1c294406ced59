/* Sample in the format of kernel/sys_ni.c (not upstream text) */
asmlinkage long sys_ni_syscall(void)
{
	return -ENOSYS;
}

/* fs/timerfd.c */
COND_SYSCALL(timerfd_create);

/* fs/eventfd.c -- a grouping comment naming the wrong file, as upstream's does */
COND_SYSCALL(epoll_wait);

/* kernel/futex/syscalls.c */
COND_SYSCALL(futex);

/* mm/fadvise.c */
COND_SYSCALL(fadvise64);

COND_SYSCALL(membarrier);
COND_SYSCALL(clone3);
COND_SYSCALL(pkey_alloc);
COND_SYSCALL(io_getevents);
COND_SYSCALL_COMPAT(ia32_fstatat64);
/* COND_SYSCALL(openat); a commented-out entry is not one */
