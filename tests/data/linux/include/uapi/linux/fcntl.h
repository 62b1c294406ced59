/* Sample (not upstream text) */
#include <asm/fcntl.h>
#define AT_FDCWD	-100
