/* pci_vfu_mig.c — the pci_vfu adapter's migration (pci_vfu.h): the server's
 * state machine arcs and data chunks, on the device's whole-stream save and
 * load.
 *
 * The server walks every path through STOP, one direct arc at a time
 * (vfio-user.rst, "VFIO_USER_DEVICE_FEATURE"; <linux/vfio.h>, enum
 * vfio_device_mig_state), so the arcs here are RUNNING <-> STOP,
 * STOP <-> STOP_COPY and STOP <-> RESUMING. The stream a client writes is
 * untrusted: it is bounded by state_max and checked by the device's load. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/log.h"
#include "pci_vfu_internal.h"

void pci_vfu_mig_drop(struct vdev_pci_vfu *a)
{
    free(a->mig_buf);
    a->mig_buf = NULL;
    a->mig_len = a->mig_pos = 0;
}

/* Entering STOP_COPY: the device is stopped; its state is taken whole, then
 * read out in chunks. */
static int save_begin(struct vdev_pci_vfu *a)
{
    const struct vdev_pci_vfu_device *d = a->cfg.dev;
    size_t len = 0;
    int ret;

    pci_vfu_mig_drop(a);
    a->mig_buf = malloc(d->state_max);
    if (!a->mig_buf)
        return -ENOMEM;
    ret = d->save(a->cfg.opaque, a->mig_buf, d->state_max, &len);
    if (ret == 0 && len > d->state_max)
        ret = -EOVERFLOW;        /* the device's bug: nothing of it goes out */
    if (ret < 0) {
        vdev_err("pci-vfu: the device did not save its state: %s", vdev_strerror(ret));
        pci_vfu_mig_drop(a);
        return ret;
    }
    a->mig_len = len;
    return 0;
}

/* Leaving RESUMING: the stream gathered is loaded, or refused and dropped. */
static int load_end(struct vdev_pci_vfu *a)
{
    int ret = a->cfg.dev->load(a->cfg.opaque, a->mig_buf, a->mig_len);

    if (ret < 0)
        vdev_warn("pci-vfu: migration stream of %zu bytes refused by the device: %s",
                  a->mig_len, vdev_strerror(ret));
    a->mig_len = 0;
    return ret;
}

static int set_running(struct vdev_pci_vfu *a, bool running)
{
    if (!a->cfg.dev->set_running)
        return 0;
    return a->cfg.dev->set_running(a->cfg.opaque, running);
}

int pci_vfu_mig_arc(void *opaque, uint32_t from, uint32_t to)
{
    struct vdev_pci_vfu *a = opaque;
    int ret;

    switch (to) {
    case VFIO_DEVICE_STATE_RUNNING:
        return set_running(a, true);
    case VFIO_DEVICE_STATE_STOP_COPY:
        return save_begin(a);
    case VFIO_DEVICE_STATE_RESUMING:
        pci_vfu_mig_drop(a);
        a->mig_buf = malloc(a->cfg.dev->state_max);
        return a->mig_buf ? 0 : -ENOMEM;
    case VFIO_DEVICE_STATE_STOP:
        if (from == VFIO_DEVICE_STATE_RUNNING)
            return set_running(a, false);
        ret = from == VFIO_DEVICE_STATE_RESUMING ? load_end(a) : 0;
        if (ret == 0)
            pci_vfu_mig_drop(a);
        return ret;
    default:
        return -EINVAL;          /* the server offers no other state */
    }
}

int pci_vfu_mig_save(void *opaque, void *buf, uint32_t len, uint32_t *done)
{
    struct vdev_pci_vfu *a = opaque;
    size_t n = a->mig_len - a->mig_pos;

    if (n > len)
        n = len;
    if (n)
        memcpy(buf, a->mig_buf + a->mig_pos, n);
    a->mig_pos += n;
    *done = (uint32_t)n;
    return 0;
}

int pci_vfu_mig_load(void *opaque, const void *buf, uint32_t len)
{
    struct vdev_pci_vfu *a = opaque;
    size_t max = a->cfg.dev->state_max;

    if (!a->mig_buf)
        return -EINVAL;          /* the server allows it in RESUMING only */
    if (len > max - a->mig_len) {
        vdev_warn("pci-vfu: migration stream longer than the device's %zu bytes", max);
        return -EFBIG;
    }
    memcpy(a->mig_buf + a->mig_len, buf, len);
    a->mig_len += len;
    return 0;
}
