/* Sample (not upstream text): what NetBSD's cdefs.h decides by default. */
#define	_NETBSD_SOURCE	1
