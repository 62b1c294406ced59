/* Sample (not upstream text): the version line the generator reads. */
#define __FreeBSD_version 1500000
