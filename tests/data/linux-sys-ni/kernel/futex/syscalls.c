SYSCALL_DEFINE6(futex, u32 __user *, uaddr, int, op)
{
}
