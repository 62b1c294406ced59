/* arch/x86/include/uapi/asm/stat.h (Linux 6.1): struct stat64, declared packed upstream
 * (96 bytes), under the name the suites use; stat64/fstat64/fstatat64 fill it. */
struct stat {
    unsigned long long st_dev; unsigned char __pad0[4]; unsigned long __st_ino;
    unsigned int st_mode; unsigned int st_nlink; unsigned long st_uid; unsigned long st_gid;
    unsigned long long st_rdev; unsigned char __pad3[4]; long long st_size;
    unsigned long st_blksize; unsigned long long st_blocks;
    unsigned long st_atime; unsigned long st_atime_nsec;
    unsigned long st_mtime; unsigned int st_mtime_nsec;
    unsigned long st_ctime; unsigned long st_ctime_nsec;
    unsigned long long st_ino;
};
