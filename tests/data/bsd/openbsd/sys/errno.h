/* Sample (not upstream text): a few of OpenBSD's errno values. */
#define	ENOENT		2
#define	ENOTSUP		91
#define	ELAST		95
