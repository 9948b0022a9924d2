/* function.c — the PCI function a virtio device shows (virtio 1.2, 4.1.2 and
 * 4.1.4): IDs, BARs, and the vendor capabilities that point the driver at the
 * virtio structures. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/pci_regs.h>
#include <linux/virtio_ids.h>

#include "vdev/pci.h"
#include "vp_internal.h"

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040     /* 4.1.2: 0x1040 + the device ID */
#define VIRTIO_PCI_SUBSYSTEM   0x1100     /* as QEMU's non-transitional functions */
/* A device ID past 0x3f (vdev's test devices, such as echo at 0xfff0) has no
 * place in the virtio range 0x1040..0x107f; it shows this ID, which no virtio
 * driver binds. */
#define VIRTIO_PCI_DEVICE_TEST 0x10f0

static uint16_t pci_device_id(uint32_t virtio_id)
{
    return virtio_id < 0x40 ? (uint16_t)(VIRTIO_PCI_DEVICE_BASE + virtio_id)
                            : VIRTIO_PCI_DEVICE_TEST;
}

static uint32_t class_code(uint32_t device_id)
{
    switch (device_id) {
    case VIRTIO_ID_BLOCK:   return 0x010000;   /* mass storage, SCSI (as QEMU) */
    case VIRTIO_ID_NET:     return 0x020000;   /* network, Ethernet */
    case VIRTIO_ID_CONSOLE: return 0x078000;   /* communication, other */
    default:                return 0xff0000;   /* unassigned class */
    }
}

static void virtio_cap(struct virtio_pci_cap *c, uint8_t type, uint32_t off, uint32_t len)
{
    memset(c, 0, sizeof(*c));
    c->cap_len = sizeof(*c);
    c->cfg_type = type;
    c->bar = VDEV_VIRTIO_PCI_BAR;
    c->offset = htole32(off);
    c->length = htole32(len);
}

int vp_function_new(struct vdev_virtio_pci *vp)
{
    struct virtio_pci_cap common, isr, device;
    struct virtio_pci_notify_cap notify;
    struct virtio_pci_cfg_cap cfg;
    uint8_t cfg_wmask[sizeof(cfg)];
    struct vdev_pci_config pc = {
        .vendor_id = VIRTIO_PCI_VENDOR,
        .device_id = pci_device_id(vp->dev->ops->device_id),
        .subsystem_vendor_id = VIRTIO_PCI_VENDOR,
        .subsystem_id = VIRTIO_PCI_SUBSYSTEM,
        .class_code = class_code(vp->dev->ops->device_id),
        .revision = 1,                  /* 4.1.2.1: non-transitional */
        .interrupt_pin = 1,
        .pm = true,
        .msix = {
            .vectors = (uint16_t)(vp->nq + 1),
            .table_bar = VDEV_VIRTIO_PCI_MSIX_BAR, .table_offset = 0,
            .pba_bar = VDEV_VIRTIO_PCI_MSIX_BAR,
            .pba_offset = VDEV_VIRTIO_PCI_MSIX_PBA_OFF,
        },
    };
    int ret;

    pc.bars[VDEV_VIRTIO_PCI_BAR] = (struct vdev_pci_bar){
        .type = VDEV_PCI_BAR_MEM64, .size = VDEV_VIRTIO_PCI_BAR_SIZE, .prefetchable = true,
    };
    pc.bars[VDEV_VIRTIO_PCI_MSIX_BAR] = (struct vdev_pci_bar){
        .type = VDEV_PCI_BAR_MEM32, .size = VDEV_VIRTIO_PCI_MSIX_BAR_SIZE,
    };
    virtio_cap(&common, VIRTIO_PCI_CAP_COMMON_CFG, VDEV_VIRTIO_PCI_COMMON_OFF, 0x1000);
    virtio_cap(&isr, VIRTIO_PCI_CAP_ISR_CFG, VDEV_VIRTIO_PCI_ISR_OFF, 0x1000);
    virtio_cap(&device, VIRTIO_PCI_CAP_DEVICE_CFG, VDEV_VIRTIO_PCI_DEVICE_OFF, 0x1000);
    virtio_cap(&notify.cap, VIRTIO_PCI_CAP_NOTIFY_CFG, VDEV_VIRTIO_PCI_NOTIFY_OFF, 0x1000);
    notify.cap.cap_len = sizeof(notify);
    notify.notify_off_multiplier = htole32(VDEV_VIRTIO_PCI_NOTIFY_MULT);
    /* 4.1.4.9: the driver writes bar, offset and length, then accesses
     * pci_cfg_data; those are the writable bytes. */
    virtio_cap(&cfg.cap, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
    cfg.cap.cap_len = sizeof(cfg);
    memset(cfg.pci_cfg_data, 0, sizeof(cfg.pci_cfg_data));
    memset(cfg_wmask, 0, sizeof(cfg_wmask));
    cfg_wmask[offsetof(struct virtio_pci_cap, bar)] = 0xff;
    memset(cfg_wmask + offsetof(struct virtio_pci_cap, offset), 0xff, 8);
    memset(cfg_wmask + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 0xff, 4);

    pc.vendor_caps[0] = (struct vdev_pci_vendor_cap){ (uint8_t *)&common, sizeof(common), NULL };
    pc.vendor_caps[1] = (struct vdev_pci_vendor_cap){ (uint8_t *)&notify, sizeof(notify), NULL };
    pc.vendor_caps[2] = (struct vdev_pci_vendor_cap){ (uint8_t *)&isr, sizeof(isr), NULL };
    pc.vendor_caps[3] = (struct vdev_pci_vendor_cap){ (uint8_t *)&device, sizeof(device), NULL };
    pc.vendor_caps[4] = (struct vdev_pci_vendor_cap){ (uint8_t *)&cfg, sizeof(cfg), cfg_wmask };
    pc.n_vendor_caps = 5;

    static const struct vdev_pci_ops pci_ops = { .reset = vp_on_pci_reset };

    ret = vdev_pci_new(&pc, &pci_ops, vp, &vp->pci);
    if (ret < 0)
        return ret;
    vp->cfg_cap = vdev_pci_find_cap(vp->pci, PCI_CAP_ID_VNDR, 4);
    return vp->cfg_cap ? 0 : -EINVAL;
}
