#include "clock.c"

#ifdef CONFIG_MEMBARRIER
# include "membarrier.c"
#endif
