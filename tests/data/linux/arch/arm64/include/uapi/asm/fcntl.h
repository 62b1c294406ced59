/* Sample (not upstream text): arm64 has its own O_DIRECTORY. */
#define O_DIRECTORY	040000
#include <asm-generic/fcntl.h>
