/* Sample (not upstream text): a machine header, reached as <machine/sample.h>. */
#ifdef __x86_64__
#define	MAP_ARCH_SAMPLE	64
#endif
