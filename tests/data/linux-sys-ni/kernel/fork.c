#ifdef __ARCH_WANT_SYS_CLONE3
SYSCALL_DEFINE2(clone3, struct clone_args __user *, uargs, size_t, size)
{
}
#endif
