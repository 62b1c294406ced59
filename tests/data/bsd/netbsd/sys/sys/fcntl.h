/* Sample (not upstream text): values as NetBSD's sys/fcntl.h has them. */
#include <sys/cdefs.h>
#include <machine/sample.h>
#define	O_RDONLY	0x00000000
#define	O_CREAT		0x00000200
#define	O_CLOEXEC	0x00400000
#if defined(_NETBSD_SOURCE)
#define	O_SEARCH	0x00800000
#endif
#ifdef _KERNEL
#define	O_KERNEL_ONLY	0x1
#endif
#ifdef __NetBSD__
#define	F_NETBSD_SEEN	__NetBSD__
#endif
