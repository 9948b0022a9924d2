/* sock_listen.c — the listening side of a server's UNIX socket path (sock.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vdev/sock.h"

/* A socket file nobody listens on is a dead server's: 0 once removed,
 * -EADDRINUSE when a listener answers, -EEXIST for another kind of file. */
static int remove_stale(const struct sockaddr_un *sa)
{
    struct stat st;
    int probe, ret;

    if (lstat(sa->sun_path, &st) < 0)
        return -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        return -errno;
    ret = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
    ret = ret == 0 || errno != ECONNREFUSED ? -EADDRINUSE : 0;
    close(probe);
    if (ret == 0 && unlink(sa->sun_path) < 0)
        ret = -errno;
    return ret;
}

VDEV_API int vdev_sock_listen(const char *path, int backlog, int *out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd, ret;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    if (ret == -EADDRINUSE) {
        ret = remove_stale(&sa);
        if (ret == 0)
            ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    }
    if (ret == 0 && listen(fd, backlog) < 0) {
        ret = -errno;
        unlink(path);
    }
    if (ret < 0) {
        close(fd);
        return ret;
    }
    *out = fd;
    return 0;
}

VDEV_API void vdev_sock_peer_name(int fd, char *buf, size_t len)
{
    struct ucred cred;
    socklen_t n = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &n) == 0)
        snprintf(buf, len, "pid %d", (int)cred.pid);
    else
        snprintf(buf, len, "fd %d", fd);
}
