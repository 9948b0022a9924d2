/* vp_driver.c — a virtio-pci driver from the spec, for tests (vp_driver.h). */
#include <endian.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include <linux/vfio.h>

#include "vdev/vfio_user_client.h"
#include "vdev/virtq.h"
#include "vdev/virtq_driver.h"
#include "vp_driver.h"

uint32_t vpd_cfg_read(struct vpd *d, unsigned off, size_t len)
{
    uint32_t v = 0;

    assert_int_equal(d->ops->cfg(d->opaque, off, &v, len, false), 0);
    return le32toh(v);
}

void vpd_cfg_write(struct vpd *d, unsigned off, uint32_t v, size_t len)
{
    v = htole32(v);
    assert_int_equal(d->ops->cfg(d->opaque, off, &v, len, true), 0);
}

uint64_t vpd_common_read(struct vpd *d, unsigned off, size_t len)
{
    uint64_t v = 0;

    assert_int_equal(d->ops->bar(d->opaque, d->common.bar, d->common.off + off, &v, len,
                                 false), 0);
    return le64toh(v);
}

void vpd_common_write(struct vpd *d, unsigned off, uint64_t v, size_t len)
{
    v = htole64(v);
    assert_int_equal(d->ops->bar(d->opaque, d->common.bar, d->common.off + off, &v, len,
                                 true), 0);
}

static void read_cap(struct vpd *d, unsigned at, struct vpd_cap *c)
{
    c->at = at;
    c->bar = (uint8_t)vpd_cfg_read(d, at + offsetof(struct virtio_pci_cap, bar), 1);
    c->off = vpd_cfg_read(d, at + offsetof(struct virtio_pci_cap, offset), 4);
    c->len = vpd_cfg_read(d, at + offsetof(struct virtio_pci_cap, length), 4);
}

void vpd_probe(struct vpd *d, const struct vpd_ops *ops, void *opaque)
{
    unsigned at, hops = 0;

    memset(d, 0, sizeof(*d));
    d->ops = ops;
    d->opaque = opaque;
    assert_int_equal(vpd_cfg_read(d, PCI_VENDOR_ID, 2), 0x1af4);
    assert_true(vpd_cfg_read(d, PCI_DEVICE_ID, 2) >= 0x1040);
    assert_true(vpd_cfg_read(d, PCI_REVISION_ID, 1) >= 1);
    assert_true(vpd_cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    for (at = vpd_cfg_read(d, PCI_CAPABILITY_LIST, 1) & ~3u; at; hops++) {
        uint8_t id = (uint8_t)vpd_cfg_read(d, at, 1);

        assert_true(hops < 48 && at >= 0x40);
        if (id == PCI_CAP_ID_VNDR) {
            uint8_t type = (uint8_t)vpd_cfg_read(d, at + 3, 1);
            struct vpd_cap *c = type == VIRTIO_PCI_CAP_COMMON_CFG ? &d->common :
                                type == VIRTIO_PCI_CAP_NOTIFY_CFG ? &d->notify :
                                type == VIRTIO_PCI_CAP_ISR_CFG ? &d->isr :
                                type == VIRTIO_PCI_CAP_DEVICE_CFG ? &d->device :
                                type == VIRTIO_PCI_CAP_PCI_CFG ? &d->cfgwin : NULL;
            if (c && !c->at)
                read_cap(d, at, c);
            if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
                d->notify_mult = vpd_cfg_read(d, at + sizeof(struct virtio_pci_cap), 4);
        } else if (id == PCI_CAP_ID_MSIX) {
            uint32_t table = vpd_cfg_read(d, at + PCI_MSIX_TABLE, 4);
            uint32_t pba = vpd_cfg_read(d, at + PCI_MSIX_PBA, 4);

            d->msix_cap = at;
            d->msix_vectors = (uint16_t)((vpd_cfg_read(d, at + PCI_MSIX_FLAGS, 2) &
                                          PCI_MSIX_FLAGS_QSIZE) + 1);
            d->msix_bar = table & PCI_MSIX_TABLE_BIR;
            d->msix_table = table & PCI_MSIX_TABLE_OFFSET;
            d->pba_bar = pba & PCI_MSIX_PBA_BIR;
            d->pba_off = pba & PCI_MSIX_PBA_OFFSET;
        }
        at = vpd_cfg_read(d, at + 1, 1) & ~3u;
    }
    /* 4.1.4: the common, notify, ISR and device structures must all be there. */
    assert_true(d->common.at && d->notify.at && d->isr.at && d->device.at);
    assert_true(d->common.len >= sizeof(struct virtio_pci_common_cfg));
    vpd_cfg_write(d, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    d->nq = (uint16_t)vpd_common_read(d, VIRTIO_PCI_COMMON_NUMQ, 2);
    assert_true(d->nq >= 1);
}

void vpd_reset(struct vpd *d)
{
    vpd_common_write(d, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1), 0);
}

static void add_status(struct vpd *d, uint8_t bits)
{
    uint8_t s = (uint8_t)vpd_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1);

    vpd_common_write(d, VIRTIO_PCI_COMMON_STATUS, s | bits, 1);
}

bool vpd_negotiate(struct vpd *d, uint64_t want)
{
    uint64_t offered;

    add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    add_status(d, VIRTIO_CONFIG_S_DRIVER);
    vpd_common_write(d, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    offered = vpd_common_read(d, VIRTIO_PCI_COMMON_DF, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    offered |= vpd_common_read(d, VIRTIO_PCI_COMMON_DF, 4) << 32;
    d->features = offered & want;
    vpd_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_GF, (uint32_t)d->features, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_GF, (uint32_t)(d->features >> 32), 4);
    add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
    return vpd_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK;
}

void vpd_msix_mask(struct vpd *d, uint16_t vector, bool mask)
{
    uint32_t ctrl = htole32(mask ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);

    assert_int_equal(d->ops->bar(d->opaque, d->msix_bar,
                                 d->msix_table + vector * PCI_MSIX_ENTRY_SIZE +
                                 PCI_MSIX_ENTRY_VECTOR_CTRL, &ctrl, 4, true), 0);
}

bool vpd_msix_pending(struct vpd *d, uint16_t vector)
{
    uint64_t bits = 0;

    assert_int_equal(d->ops->bar(d->opaque, d->pba_bar, d->pba_off + vector / 64 * 8,
                                 &bits, 8, false), 0);
    return le64toh(bits) >> (vector % 64) & 1;
}

void vpd_msix_enable(struct vpd *d, bool msix)
{
    if (!msix)
        return;
    assert_true(d->msix_cap);
    vpd_cfg_write(d, d->msix_cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
    for (uint16_t v = 0; v < d->msix_vectors; v++)
        vpd_msix_mask(d, v, false);
    vpd_common_write(d, VIRTIO_PCI_COMMON_MSIX, 0, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_MSIX, 2), 0);
}

void vpd_queue_setup(struct vpd *d, uint16_t n, uint16_t size, struct vdev_mem *mem,
                     uint64_t ring_gpa, uint16_t vector)
{
    bool packed = d->features & (1ull << VIRTIO_F_RING_PACKED);
    struct vdev_vqd_config c = { .packed = packed, .mem = mem, .kick_fd = -1,
        .event_idx = d->features & (1ull << VIRTIO_RING_F_EVENT_IDX) };
    uint16_t max;

    assert_true(n < VPD_MAX_QUEUES);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, n, 2);
    max = (uint16_t)vpd_common_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    assert_true(max > 0);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    size = size && size < max ? size : max;
    c.size = size;
    c.desc_gpa = ring_gpa;
    c.driver_gpa = ring_gpa + 0x8000;
    c.device_gpa = ring_gpa + 0xc000;
    assert_int_equal(vdev_vqd_new(&c, &d->q[n].drv), 0);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
    /* Linux writes each 64-bit address as two 32-bit halves, low first. */
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)c.desc_gpa, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_DESCHI, c.desc_gpa >> 32, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)c.driver_gpa, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_AVAILHI, c.driver_gpa >> 32, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)c.device_gpa, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_USEDHI, c.device_gpa >> 32, 4);
    d->q[n].notify_off = (uint16_t)vpd_common_read(d, VIRTIO_PCI_COMMON_Q_NOFF, 2);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_MSIX, vector, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_MSIX, 2), vector);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    d->q[n].size = size;
    d->q[n].desc = c.desc_gpa;
    d->q[n].driver = c.driver_gpa;
    d->q[n].device = c.device_gpa;
}

void vpd_driver_ok(struct vpd *d)
{
    add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
    assert_true(vpd_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_DRIVER_OK);
}

void vpd_notify(struct vpd *d, uint16_t n)
{
    uint16_t v = htole16(n);

    if (!vdev_vqd_kick_prepare(d->q[n].drv))
        return;                     /* the device asked for no kick */
    assert_int_equal(d->ops->bar(d->opaque, d->notify.bar,
                                 d->notify.off + d->q[n].notify_off * d->notify_mult,
                                 &v, 2, true), 0);
}

bool vpd_wait_irq(struct vpd *d, int v, int ms)
{
    struct pollfd p = { .fd = d->ops->irq_fd(d->opaque, v), .events = POLLIN };
    uint64_t n;

    if (poll(&p, 1, ms) != 1)
        return false;
    assert_int_equal(read(p.fd, &n, sizeof(n)), sizeof(n));
    return true;
}

void vpd_queues_free(struct vpd *d)
{
    for (unsigned i = 0; i < VPD_MAX_QUEUES; i++) {
        vdev_vqd_free(d->q[i].drv);
        d->q[i].drv = NULL;
    }
}

/* --- over a vfio-user client ------------------------------------------------------ */

static int vfuc_cfg(void *o, uint64_t off, void *buf, size_t len, bool write)
{
    struct vpd_vfuc *v = o;

    return write ? vdev_vfuc_region_write(v->c, VFIO_PCI_CONFIG_REGION_INDEX, off, buf,
                                          (uint32_t)len, false)
                 : vdev_vfuc_region_read(v->c, VFIO_PCI_CONFIG_REGION_INDEX, off, buf,
                                         (uint32_t)len);
}

static int vfuc_bar(void *o, unsigned bar, uint64_t off, void *buf, size_t len, bool write)
{
    struct vpd_vfuc *v = o;

    return write ? vdev_vfuc_region_write(v->c, bar, off, buf, (uint32_t)len, false)
                 : vdev_vfuc_region_read(v->c, bar, off, buf, (uint32_t)len);
}

static int vfuc_irq_fd(void *o, int vector)
{
    struct vpd_vfuc *v = o;

    assert_true(vector >= 0 && (unsigned)vector < v->nirq);
    return v->irq[vector];
}

const struct vpd_ops vpd_vfuc_ops = { vfuc_cfg, vfuc_bar, vfuc_irq_fd };
