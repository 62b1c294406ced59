#ifdef CONFIG_ARCH_HAS_PKEYS
SYSCALL_DEFINE2(pkey_alloc, unsigned long, flags, unsigned long, init_val)
{
}
#endif
