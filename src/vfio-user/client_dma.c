/* client_dma.c — our memory as the server reaches it: windows mapped without an
 * fd are recorded with their host address, and the server's VFIO_USER_DMA_READ
 * and VFIO_USER_DMA_WRITE commands are served from them ("VFIO_USER_DMA_READ",
 * "VFIO_USER_DMA_WRITE"), on the twin socket or, without one, on the main
 * socket while we wait for a reply. Everything the server asks is checked: a
 * range outside every window is EFAULT, a window without the access EACCES, a
 * count above our max_data_xfer_size or a payload not of the command's size
 * EINVAL. Any other command is ENOTSUP. */
#include <errno.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>

#include "vdev/sock.h"
#include "client_internal.h"

int vfuc_window_add(struct vdev_vfuc *c, uint64_t iova, uint64_t size, void *host,
                    uint32_t prot)
{
    struct vfuc_window *w = realloc(c->windows, (c->nwindows + 1) * sizeof(*w));

    if (!w)
        return -ENOMEM;
    c->windows = w;
    w[c->nwindows++] = (struct vfuc_window){ iova, size, host, prot };
    return 0;
}

void vfuc_window_remove(struct vdev_vfuc *c, uint64_t iova, uint64_t size, bool all)
{
    for (size_t i = 0; i < c->nwindows;) {
        if (all || (c->windows[i].iova == iova && c->windows[i].size == size))
            c->windows[i] = c->windows[--c->nwindows];
        else
            i++;
    }
}

/* Host address of [addr, addr + count) inside one window with prot. */
static int window_of(struct vdev_vfuc *c, uint64_t addr, uint64_t count, uint32_t prot,
                     uint8_t **out)
{
    for (size_t i = 0; i < c->nwindows; i++) {
        const struct vfuc_window *w = &c->windows[i];

        if (addr < w->iova || addr - w->iova >= w->size ||
            count > w->size - (addr - w->iova))
            continue;
        if (!(w->prot & prot))
            return -EACCES;
        *out = w->host + (addr - w->iova);
        return 0;
    }
    return -EFAULT;
}

/* DMA_READ or DMA_WRITE: the reply payload in *out (malloc'd), *size bytes. */
static int serve_dma(struct vdev_vfuc *c, const struct vfu_header *h, uint8_t **out,
                     uint32_t *size)
{
    const uint8_t *p = c->buf + sizeof(*h);
    uint32_t len = h->msg_size - (uint32_t)sizeof(*h);
    bool write = h->command == VFU_CMD_DMA_WRITE;
    struct vfu_dma_access a;
    uint8_t *host;
    int ret;

    if (len < sizeof(a))
        return -EINVAL;
    memcpy(&a, p, sizeof(a));
    if (a.count > c->my_max_xfer)
        return -EINVAL;   /* "must not exceed the value of max_data_xfer_size" */
    if (len != sizeof(a) + (write ? a.count : 0))
        return -EINVAL;
    ret = window_of(c, a.addr, a.count, write ? VDEV_VFUC_DMA_WRITE : VDEV_VFUC_DMA_READ,
                    &host);
    if (ret < 0)
        return ret;
    *size = (uint32_t)sizeof(a) + (write ? 0 : (uint32_t)a.count);
    *out = malloc(*size);
    if (!*out)
        return -ENOMEM;
    memcpy(*out, &a, sizeof(a));
    if (write)
        memcpy(host, p + sizeof(a), a.count);
    else
        memcpy(*out + sizeof(a), host, a.count);
    return 0;
}

int vfuc_serve_command(struct vdev_vfuc *c, int sock, const struct vfu_header *h)
{
    struct vfu_header r = { .msg_id = h->msg_id, .command = h->command,
                            .msg_size = sizeof(r), .flags = VFU_F_TYPE_REPLY };
    uint8_t *payload = NULL;
    uint32_t size = 0;
    int ret = -ENOTSUP;

    if (h->command == VFU_CMD_DMA_READ || h->command == VFU_CMD_DMA_WRITE)
        ret = serve_dma(c, h, &payload, &size);
    if (ret < 0) {
        vdev_warn(VFUC_LOG "the server's command %u (id %u) failed: %s", h->command,
                  h->msg_id, vdev_strerror(ret));
        r.flags |= VFU_F_ERROR;
        r.error_no = (uint32_t)-ret;
        size = 0;
    }
    r.msg_size += size;
    if (!(h->flags & VFU_F_NO_REPLY))
        ret = vfuc_send_on(c, sock, &r, payload, size, NULL, 0, NULL, 0);
    else
        ret = 0;
    free(payload);
    return ret;
}

VDEV_API int vdev_vfuc_dma_map_local(struct vdev_vfuc *c, uint64_t iova, uint64_t size,
                                     void *host, uint32_t prot)
{
    int ret;

    if (!c || !host || !size)
        return -EINVAL;
    ret = vfuc_window_add(c, iova, size, host, prot);
    if (ret < 0)
        return ret;
    ret = vdev_vfuc_dma_map(c, iova, size, -1, 0, prot);
    if (ret < 0)
        c->nwindows--;           /* the one just added, still the last */
    return ret;
}

VDEV_API int vdev_vfuc_serve(struct vdev_vfuc *c, int timeout_ms)
{
    struct pollfd p;
    int r;

    if (!c || c->sock < 0)
        return -ENOTCONN;
    if (c->twin_fd < 0)
        return -ENOTSUP;
    p = (struct pollfd){ .fd = c->twin_fd, .events = POLLIN };
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        return 0;
    r = vfuc_twin_serve(c);
    return r < 0 ? r : 1;
}
