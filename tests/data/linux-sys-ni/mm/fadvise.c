#ifndef CONFIG_ADVISE_SYSCALLS
static int nothing;
#else	/* a tab after the directive */
SYSCALL_DEFINE4(fadvise64, int, fd, loff_t, offset, size_t, len, int, advice)
{
}
#endif	/* CONFIG_ADVISE_SYSCALLS */
