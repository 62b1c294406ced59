/* Sample (not upstream text): a few of Linux's errno values. */
#define	EPERM		 1
#define	ENOENT		 2
#define	EAGAIN		11
#define	EWOULDBLOCK	EAGAIN
#define	ENOSYS		38
