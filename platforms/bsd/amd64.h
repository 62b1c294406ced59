/* Layouts FreeBSD, NetBSD and OpenBSD share on amd64, listed by [platform] cdef in each
 * one's common.toml (their own amd64.h holds the rest). From each tree amd64.toml was
 * made from: sys/sys/_timespec.h / sys/sys/time.h (64-bit time_t), sys/sys/poll.h,
 * sys/sys/_iovec.h / sys/sys/uio.h, and the 4.4BSD socket addresses, which begin with a
 * length byte: sys/sys/socket.h, netinet/in.h, netinet6/in6.h, sys/sys/un.h; and
 * sys/sys/socket.h's struct linger. */

struct timespec { int64_t tv_sec; long tv_nsec; };
struct pollfd { int fd; short events; short revents; };
struct iovec { void *iov_base; size_t iov_len; };
struct sockaddr { uint8_t sa_len; uint8_t sa_family; char sa_data[14]; };
struct in_addr { uint32_t s_addr; };
struct sockaddr_in {
    uint8_t sin_len; uint8_t sin_family; uint16_t sin_port; struct in_addr sin_addr;
    char sin_zero[8];
};
struct in6_addr { uint8_t s6_addr[16]; };
struct sockaddr_in6 {
    uint8_t sin6_len; uint8_t sin6_family; uint16_t sin6_port; uint32_t sin6_flowinfo;
    struct in6_addr sin6_addr; uint32_t sin6_scope_id;
};
struct sockaddr_un { uint8_t sun_len; uint8_t sun_family; char sun_path[104]; };
struct linger { int l_onoff; int l_linger; };  /* sys/sys/socket.h, SO_LINGER */
