/* Sample (not upstream text): generic values; an arch may define its own first. */
#ifndef O_DIRECTORY
#define O_DIRECTORY	00200000
#endif
#define O_CREAT		00000100
#ifdef __KERNEL__
#define O_KERNEL_ONLY	1
#endif
