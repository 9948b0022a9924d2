/* sock.h — whole messages with file descriptors over UNIX stream sockets.
 *
 * Both protocols frame messages on a stream socket and attach fds with SCM_RIGHTS.
 * These calls move exactly the bytes asked for, through short reads and writes and
 * EINTR, and own every fd that arrives: an fd is handed to the caller or closed,
 * never left open. Sockets may be blocking or non-blocking; on EAGAIN the calls
 * wait with poll() up to timeout_ms in all (-1: no limit), so a peer that stops
 * half-way through a message cannot hold the caller forever. With timeout_ms >= 0
 * every sendmsg()/recvmsg() is made with MSG_DONTWAIT, so the limit holds on a
 * blocking socket too; timeout_ms 0 moves what it can without waiting.
 *
 * After -ETIMEDOUT, -EPROTO or another I/O error, part of a message may have
 * moved: the stream is out of step and the connection should be closed.
 * -EMSGSIZE from vdev_sock_recv() leaves it in step. */
#ifndef VDEV_SOCK_H
#define VDEV_SOCK_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most fds one message of either protocol carries (vhost-user allows 8 and
 * SET_MEM_TABLE uses them all; vfio-user negotiates max_msg_fds). */
#define VDEV_SOCK_MAX_FDS 253

/* Sends len bytes; the nfds fds ride on the first byte. Returns 0, -EPIPE if the
 * peer has gone (no SIGPIPE is raised), -ETIMEDOUT, -EINVAL (nfds >
 * VDEV_SOCK_MAX_FDS, or fds with len 0), or another negative errno. len 0 without
 * fds returns 0 at once. The caller keeps its fds. */
VDEV_API int vdev_sock_send(int sock, const void *buf, size_t len,
                            const int *fds, size_t nfds, int timeout_ms);

/* Receives exactly len bytes, collecting every fd that arrives with them, on
 * whichever of the bytes it arrives.
 *   0            all len bytes; *nfds fds (at most max_fds) stored in fds[], now the
 *                caller's, with FD_CLOEXEC set.
 *   -ECONNRESET  the peer closed before the first byte (a clean end of stream).
 *   -EPROTO      the peer closed part-way through the message.
 *   -EMSGSIZE    all len bytes were read, but more than max_fds fds came or the
 *                kernel dropped some (MSG_CTRUNC, e.g. at RLIMIT_NOFILE): every
 *                fd of the message was closed and *nfds is 0. The stream is
 *                still in step.
 *   -ETIMEDOUT   the message did not complete in timeout_ms.
 * fds and nfds may be NULL when max_fds is 0: any fd that arrives is then closed
 * and the call returns -EMSGSIZE. len 0 returns 0 at once. On every error *nfds
 * is 0 and no fd of the message is left open; the entries of fds[] that were used
 * are set to -1. -EINVAL if max_fds > 0 and fds or nfds is NULL. */
VDEV_API int vdev_sock_recv(int sock, void *buf, size_t len, int *fds,
                            size_t max_fds, size_t *nfds, int timeout_ms);

/* Closes fds[0..n) that are >= 0 and sets them to -1. */
VDEV_API void vdev_close_fds(int *fds, size_t n);

/* A listening UNIX stream socket at path (non-blocking, close-on-exec), for a
 * server that serves VMMs there. A socket file nobody listens on (a crashed
 * server's) is replaced; one a live listener holds is -EADDRINUSE; any other
 * file there is -EEXIST; a path too long for sun_path is -ENAMETOOLONG; or the
 * errno of socket(), bind(), listen(). */
VDEV_API int  vdev_sock_listen(const char *path, int backlog, int *out);

/* Who is at the other end of a connected UNIX socket, for log lines: "pid N"
 * (SO_PEERCRED), or "fd N" when the kernel cannot say. */
VDEV_API void vdev_sock_peer_name(int fd, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
