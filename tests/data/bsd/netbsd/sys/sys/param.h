/* Sample (not upstream text): the version line the generator reads. */
#define	__NetBSD_Version__	799003400	/* NetBSD 7.99.34 */
