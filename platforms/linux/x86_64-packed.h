/* arch/x86/include/uapi/... linux/eventpoll.h: EPOLL_PACKED is __attribute__((packed))
 * on x86_64, so the 64-bit data field sits at offset 4 (12 bytes in all). */
struct epoll_event { uint32_t events; uint64_t data; };
