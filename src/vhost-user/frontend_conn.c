/* frontend_conn.c — the front-end's connection: connect (waiting for a back-end
 * that is starting), attach to a connected socket, close. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vdev/mem.h"
#include "frontend_internal.h"

#define VUC_RETRY_STEP_MS 10

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A back-end that is starting has no socket yet (ENOENT) or is not listening yet
 * (ECONNREFUSED); a busy one has a full backlog (EAGAIN). */
static bool worth_retrying(int err)
{
    return err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
}

int vuc_connect_path(const char *path, int retry_ms, int *out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int64_t deadline;

    if (!path || !out || retry_ms < 0)
        return -EINVAL;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    deadline = now_ms() + retry_ms;

    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int64_t left;
        int err;

        if (fd < 0)
            return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            *out = fd;
            return 0;
        }
        err = errno;
        close(fd);
        if (err == EINTR)
            continue;
        left = deadline - now_ms();
        if (!worth_retrying(err) || left <= 0)
            return -err;
        sleep_ms(left < VUC_RETRY_STEP_MS ? (int)left : VUC_RETRY_STEP_MS);
    }
}

VDEV_API int vdev_vuc_attach(int fd, struct vdev_vuc **out)
{
    struct vdev_vuc *c;
    struct stat st;
    int ret;

    if (!out || fd < 0)
        return -EINVAL;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    ret = vdev_mem_new(&c->mem);
    if (ret < 0) {
        free(c);
        return ret;
    }
    c->sock = fd;
    c->timeout_ms = VDEV_VUC_DEFAULT_TIMEOUT_MS;
    c->inflight_fd = -1;
    c->backend_fd = -1;
    *out = c;
    return 0;
}

VDEV_API int vdev_vuc_connect(const char *path, int retry_ms, struct vdev_vuc **out)
{
    int fd, ret;

    if (!out)
        return -EINVAL;
    ret = vuc_connect_path(path, retry_ms, &fd);
    if (ret < 0)
        return ret;
    ret = vdev_vuc_attach(fd, out);
    if (ret < 0)
        close(fd);
    return ret;
}

VDEV_API void vdev_vuc_close(struct vdev_vuc *c)
{
    if (!c)
        return;
    if (c->sock >= 0)
        close(c->sock);
    c->sock = -1;                /* queue_free below then sends nothing */
    vuc_backend_close(c);
    for (unsigned i = 0; i < VDEV_VUC_MAX_QUEUES; i++)
        if (c->queues[i])
            vdev_vuc_queue_free(c, (uint16_t)i);
    if (c->inflight_fd >= 0)
        close(c->inflight_fd);
    vuc_mem_free(c);
    free(c);
}

VDEV_API void vdev_vuc_set_timeout(struct vdev_vuc *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

VDEV_API bool vdev_vuc_connected(const struct vdev_vuc *c)
{
    return c->sock >= 0;
}
