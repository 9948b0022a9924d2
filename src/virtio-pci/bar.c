/* bar.c — accesses to the virtio structures in BAR 0, the MSI-X BAR, and the
 * PCI configuration access capability's window onto them (4.1.4.9). */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "vdev/log.h"
#include "vdev/pci.h"
#include "vp_internal.h"

static bool natural(uint64_t off, size_t len)
{
    return (len == 1 || len == 2 || len == 4 || len == 8) && (off & (len - 1)) == 0;
}

static int device_cfg(struct vdev_virtio_pci *vp, uint64_t off, void *buf, size_t len,
                      bool write)
{
    const struct vdev_virtio_ops *ops = vp->dev->ops;
    size_t n;

    if (!write)
        memset(buf, 0, len);
    if (off >= vp->config_size)
        return 0;                    /* past the device's structure: nothing */
    n = len < vp->config_size - off ? len : vp->config_size - off;
    if (write)
        return ops->set_config ? ops->set_config(vp->dev->priv, (uint32_t)off, buf,
                                                 (uint32_t)n) : 0;
    return ops->get_config ? ops->get_config(vp->dev->priv, (uint32_t)off, buf,
                                             (uint32_t)n) : 0;
}

/* 4.1.4.4: a write of the queue's index (16 bits; 32 with notification data)
 * at queue_notify_off * notify_off_multiplier. It becomes a kick on the
 * queue's eventfd, the same the worker watches and an ioeventfd writes. */
static int notify(struct vdev_virtio_pci *vp, uint64_t off, size_t len, bool is_write)
{
    uint64_t n = off / VDEV_VIRTIO_PCI_NOTIFY_MULT, one = 1;

    if (!is_write)
        return 0;                    /* reads return zeroes */
    if (off % VDEV_VIRTIO_PCI_NOTIFY_MULT || n >= vp->nq) {
        vdev_warn("virtio-pci: a notification at %#llx is no queue's",
                  (unsigned long long)off);
        return 0;
    }
    if (write(vp->queues[n].kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

/* 4.1.4.5: reading the ISR status clears it and lowers INTx. */
static void isr_read(struct vdev_virtio_pci *vp, void *buf, size_t len)
{
    memset(buf, 0, len);
    *(uint8_t *)buf = atomic_exchange(&vp->isr, 0);
    vdev_pci_intx_deassert(vp->pci);
}

static int virtio_bar(struct vdev_virtio_pci *vp, uint64_t off, void *buf, size_t len,
                      bool write)
{
    if (off < VDEV_VIRTIO_PCI_ISR_OFF) {
        if (write)
            vp_common_write(vp, off - VDEV_VIRTIO_PCI_COMMON_OFF, buf, len);
        else
            vp_common_read(vp, off - VDEV_VIRTIO_PCI_COMMON_OFF, buf, len);
        return 0;
    }
    if (off < VDEV_VIRTIO_PCI_DEVICE_OFF) {
        if (!write)
            isr_read(vp, buf, len);
        return 0;
    }
    if (off < VDEV_VIRTIO_PCI_NOTIFY_OFF)
        return device_cfg(vp, off - VDEV_VIRTIO_PCI_DEVICE_OFF, buf, len, write);
    return notify(vp, off - VDEV_VIRTIO_PCI_NOTIFY_OFF, len, write);
}

VDEV_API int vdev_virtio_pci_bar_access(struct vdev_virtio_pci *vp, unsigned bar,
                                        uint64_t off, void *buf, size_t len, bool write)
{
    int ret;

    if (!write)
        memset(buf, 0xff, len);
    if (bar == VDEV_VIRTIO_PCI_MSIX_BAR) {
        if (off >= VDEV_VIRTIO_PCI_MSIX_BAR_SIZE || len > VDEV_VIRTIO_PCI_MSIX_BAR_SIZE - off)
            return -EINVAL;
        ret = vdev_pci_bar_access(vp->pci, bar, off, buf, len, write);
        if (ret == 0 && !write)
            memset(buf, 0, len);     /* between the table and the PBA */
        return ret < 0 ? ret : 0;
    }
    if (bar != VDEV_VIRTIO_PCI_BAR || off >= VDEV_VIRTIO_PCI_BAR_SIZE ||
        len > VDEV_VIRTIO_PCI_BAR_SIZE - off || !natural(off, len))
        return -EINVAL;
    if (!vdev_pci_bar_enabled(vp->pci, bar))
        return 0;                    /* memory decoding off: reads float high */
    return virtio_bar(vp, off, buf, len, write);
}

/* 4.1.4.9: an access to pci_cfg_data is an access of cap.length bytes at
 * cap.offset in BAR cap.bar. Lengths 1, 2 and 4 at an offset aligned to the
 * length are done; anything else does nothing. */
static void cfg_window(struct vdev_virtio_pci *vp, bool write)
{
    unsigned base = vp->cfg_cap;
    struct virtio_pci_cfg_cap cap;
    uint32_t off, len;
    uint8_t data[4];

    if (vdev_pci_config_read(vp->pci, base, &cap, sizeof(cap)) < 0)
        return;
    off = le32toh(cap.cap.offset);
    len = le32toh(cap.cap.length);
    if ((len != 1 && len != 2 && len != 4) || off % len)
        return;
    if (write) {
        memcpy(data, cap.pci_cfg_data, len);
        vdev_virtio_pci_bar_access(vp, cap.cap.bar, off, data, len, true);
        return;
    }
    memset(data, 0, sizeof(data));
    if (vdev_virtio_pci_bar_access(vp, cap.cap.bar, off, data, len, false) < 0)
        return;
    vdev_pci_config_write(vp->pci, base + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data),
                          data, sizeof(data));
}

VDEV_API int vdev_virtio_pci_config_access(struct vdev_virtio_pci *vp, uint64_t off,
                                           void *buf, size_t len, bool write)
{
    uint64_t data = vp->cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
    bool window = off < data + 4 && data < off + len;
    int ret;

    if (write) {
        ret = vdev_pci_config_write(vp->pci, off, buf, len);
        if (ret == 0 && window)
            cfg_window(vp, true);
        return ret;
    }
    if (window && len && len <= 4)
        cfg_window(vp, false);
    return vdev_pci_config_read(vp->pci, off, buf, len);
}
