/* Sample (not upstream text): a few of NetBSD's errno values. */
#define	EPERM		1
#define	ENOENT		2
#define	EAGAIN		35
#define	EWOULDBLOCK	EAGAIN
#define	ENOSYS		78
#define	ENOTSUP		86
#define	ELAST		96
#ifdef _KERNEL
#define	ERESTART	-3
#endif
