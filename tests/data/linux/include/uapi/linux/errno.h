/* Sample (not upstream text) */
#include <asm/errno.h>
