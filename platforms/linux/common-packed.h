/* Linux structs the uapi headers declare __attribute__((packed)), the same on every arch
 * (loaded with cffi's packed=True before <arch>-packed.h). linux/landlock.h. */

struct landlock_path_beneath_attr { uint64_t allowed_access; int32_t parent_fd; };
