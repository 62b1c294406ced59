/* Sample (not upstream text): FreeBSD errno values; no sys/cdefs.h in this tree. */
#define	ENOENT		2
#if __BSD_VISIBLE
#define	ENOTCAPABLE	93
#endif
#define	ELAST		97
