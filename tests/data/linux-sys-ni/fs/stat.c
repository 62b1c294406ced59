#ifdef CONFIG_COMPAT
COMPAT_SYSCALL_DEFINE4(ia32_fstatat64, unsigned int, dfd)
{
}
#endif
