/* Sample (not upstream text): the version lines the generator reads. */
#define OpenBSD	202604
#define OpenBSD7_9 1
