/* Sample (not upstream text): the generic table's shape, 64- and 32-bit names. */
#include <asm/bitsperlong.h>
#define __NR_openat 56
#if __BITS_PER_LONG == 64
#define __NR_fstat 80
#else
#define __NR_fstat64 80
#endif
#define __NR_syscalls 451
