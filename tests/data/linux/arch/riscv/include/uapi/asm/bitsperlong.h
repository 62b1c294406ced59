/* Sample (not upstream text): riscv's width comes from the compiler. */
#define __BITS_PER_LONG (__SIZEOF_POINTER__ * 8)
#include <asm-generic/bitsperlong.h>
