/* virtio_vfu.c — a virtio device over vfio-user (virtio_vfu.h): the virtio-pci
 * transport as a pci_vfu device, with its config window, its DMA map, its
 * notify ioeventfds and its migration (the transport's set_running, save and
 * load, which the adapter turns into the server's STOP_COPY migration). */
#include <errno.h>
#include <stdlib.h>
#include <linux/vfio.h>

#include "vdev/pci_vfu.h"
#include "vdev/vfio_user.h"
#include "vdev/virtio_dev.h"
#include "vdev/virtio_pci.h"
#include "vdev/virtio_vfu.h"

struct vdev_virtio_vfu {
    struct vdev_pci_vfu_device ops;  /* the adapter's, with this state_max */
    struct vdev_virtio_pci *vp;
    struct vdev_pci_vfu *adapter;
    struct vdev_vfu_server *srv;
    uint16_t nq;
};

static int bar_access(void *opaque, unsigned bar, uint64_t off, void *buf, uint32_t len,
                      bool write)
{
    struct vdev_virtio_vfu *v = opaque;

    return vdev_virtio_pci_bar_access(v->vp, bar, off, buf, len, write);
}

static int config_access(void *opaque, uint64_t off, void *buf, uint32_t len, bool write)
{
    struct vdev_virtio_vfu *v = opaque;

    return vdev_virtio_pci_config_access(v->vp, off, buf, len, write);
}

/* The queues stop while the map changes, then go on with the client's map
 * (gone, after the client has: they stay stopped until a client maps memory). */
static void dma_quiesce(void *opaque, bool quiesce)
{
    struct vdev_virtio_vfu *v = opaque;

    if (quiesce) {
        vdev_virtio_pci_quiesce(v->vp);
        vdev_virtio_pci_set_mem(v->vp, NULL);
        return;
    }
    vdev_virtio_pci_set_mem(v->vp, vdev_vfu_server_mem(v->srv));
    vdev_virtio_pci_resume(v->vp);
}

/* 4.1.4.4: queue n's notify address is NOTIFY_OFF + n * NOTIFY_MULT in BAR 0;
 * Linux writes the queue index there in 16 bits. */
static int region_io_fds(void *opaque, uint32_t index, struct vdev_vfu_io_fd *out,
                         uint32_t max, uint32_t *count)
{
    struct vdev_virtio_vfu *v = opaque;

    *count = 0;
    if (index != VDEV_VIRTIO_PCI_BAR)
        return 0;
    for (uint16_t n = 0; n < v->nq && *count < max; n++)
        out[(*count)++] = (struct vdev_vfu_io_fd){
            .offset = VDEV_VIRTIO_PCI_NOTIFY_OFF + (uint64_t)n * VDEV_VIRTIO_PCI_NOTIFY_MULT,
            .size = 2,
            .fd = vdev_virtio_pci_notify_fd(v->vp, n),
            .type = VDEV_VFU_IO_FD_IOEVENTFD,
        };
    return 0;
}

static int set_running(void *opaque, bool running)
{
    struct vdev_virtio_vfu *v = opaque;

    return vdev_virtio_pci_set_running(v->vp, running);
}

static int save(void *opaque, void *buf, size_t cap, size_t *len)
{
    struct vdev_virtio_vfu *v = opaque;

    return vdev_virtio_pci_save(v->vp, buf, cap, len);
}

static int load(void *opaque, const void *buf, size_t len)
{
    struct vdev_virtio_vfu *v = opaque;

    return vdev_virtio_pci_load(v->vp, buf, len);
}

static const struct vdev_pci_vfu_device virtio_vfu_device = {
    .bar_access = bar_access,
    .config_access = config_access,
    .dma_quiesce = dma_quiesce,
    .region_io_fds = region_io_fds,
    .set_running = set_running,
    .save = save,
    .load = load,
};

VDEV_API int vdev_virtio_vfu_new(const struct vdev_virtio_vfu_config *c,
                                 struct vdev_virtio_vfu **out)
{
    struct vdev_virtio_vfu *v = calloc(1, sizeof(*v));
    struct vdev_virtio_pci_config vc = { .dev = c->dev, .workers = c->workers };
    struct vdev_pci_vfu_config ac = { .loop = c->loop };
    struct vdev_vfu_server_config sc = {
        .loop = c->loop, .socket_path = c->socket_path, .listen_fd = c->listen_fd,
        .conn_fd = c->conn_fd,
    };
    int ret;

    if (!v)
        return -ENOMEM;
    ret = vdev_virtio_pci_new(&vc, &v->vp);
    if (ret == 0) {
        v->nq = c->dev->ops->num_queues(c->dev->priv);
        v->ops = virtio_vfu_device;
        v->ops.state_max = vdev_virtio_pci_state_max(v->vp);
        ac.dev = &v->ops;
        ac.pci = vdev_virtio_pci_function(v->vp);
        ac.opaque = v;
        ret = vdev_pci_vfu_new(&ac, &v->adapter);
    }
    if (ret == 0) {
        sc.ops = vdev_pci_vfu_ops(v->adapter);
        sc.opaque = v->adapter;
        ret = vdev_vfu_server_new(&sc, &v->srv);
    }
    if (ret < 0) {
        vdev_virtio_vfu_free(v);
        return ret;
    }
    vdev_pci_vfu_attach(v->adapter, v->srv);
    *out = v;
    return 0;
}

VDEV_API void vdev_virtio_vfu_free(struct vdev_virtio_vfu *v)
{
    if (!v)
        return;
    vdev_vfu_server_free(v->srv);
    vdev_pci_vfu_free(v->adapter);
    vdev_virtio_pci_free(v->vp);
    free(v);
}

VDEV_API struct vdev_virtio_pci *vdev_virtio_vfu_transport(struct vdev_virtio_vfu *v)
{
    return v->vp;
}

VDEV_API struct vdev_vfu_server *vdev_virtio_vfu_server(struct vdev_virtio_vfu *v)
{
    return v->srv;
}
