SYSCALL_DEFINE2(timerfd_create, int, clockid, int, flags)
{
}
