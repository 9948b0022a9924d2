/* vp_driver.h — a virtio-pci driver written from the spec (virtio 1.2, 4.1)
 * the way Linux's virtio_pci_modern drives a function: probe the capabilities,
 * reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, MSI-X vectors, queues
 * through the common configuration, DRIVER_OK, notifications, interrupts.
 * It reaches the function through two access callbacks, so the same driver
 * runs on direct calls and over a vfio-user client. Failures are cmocka
 * assertions. */
#ifndef VP_DRIVER_H
#define VP_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vdev_mem;
struct vdev_vqd;

#define VPD_MAX_QUEUES 8

struct vpd_ops {
    int (*cfg)(void *opaque, uint64_t off, void *buf, size_t len, bool write);
    int (*bar)(void *opaque, unsigned bar, uint64_t off, void *buf, size_t len, bool write);
    /* The eventfd that MSI-X vector v (or INTx, v == -1) fires. */
    int (*irq_fd)(void *opaque, int v);
};

/* The access paths over a vfio-user client (vfio_user_client.h): config space
 * and BARs with REGION_READ/WRITE, MSI-X vector v's eventfd irq[v] (the ones
 * given with SET_IRQS). opaque: a struct vpd_vfuc. */
struct vdev_vfuc;
struct vpd_vfuc {
    struct vdev_vfuc *c;
    const int *irq;
    unsigned nirq;
};
extern const struct vpd_ops vpd_vfuc_ops;

struct vpd_cap { uint8_t bar; uint32_t off, len; unsigned at; };

struct vpd {
    const struct vpd_ops *ops;
    void *opaque;
    struct vpd_cap common, notify, isr, device, cfgwin;
    uint32_t notify_mult;
    unsigned msix_cap;
    uint16_t msix_vectors;
    uint8_t msix_bar;
    uint32_t msix_table;
    uint8_t pba_bar;
    uint32_t pba_off;
    uint64_t features;                    /* negotiated */
    uint16_t nq;
    struct {
        uint16_t size, notify_off;
        struct vdev_vqd *drv;
        uint64_t desc, driver, device;
    } q[VPD_MAX_QUEUES];
};

/* Config space and BAR accessors, little-endian values. */
uint32_t vpd_cfg_read(struct vpd *d, unsigned off, size_t len);
void     vpd_cfg_write(struct vpd *d, unsigned off, uint32_t v, size_t len);
uint64_t vpd_common_read(struct vpd *d, unsigned off, size_t len);
void     vpd_common_write(struct vpd *d, unsigned off, uint64_t v, size_t len);

/* Reads the IDs and walks the capability list; enables memory decoding and bus
 * mastering. */
void vpd_probe(struct vpd *d, const struct vpd_ops *ops, void *opaque);
/* Writes 0 to device_status and waits for it to read 0 (4.1.4.3.2). */
void vpd_reset(struct vpd *d);
/* ACKNOWLEDGE, DRIVER, features (offered & want), FEATURES_OK: returns whether
 * the device kept FEATURES_OK. */
bool vpd_negotiate(struct vpd *d, uint64_t want);
/* Enables MSI-X with every vector unmasked (msix false: INTx stays). */
void vpd_msix_enable(struct vpd *d, bool msix);
void vpd_msix_mask(struct vpd *d, uint16_t vector, bool mask);
bool vpd_msix_pending(struct vpd *d, uint16_t vector);
/* Sets up queue n of size (0: the device's) in mem at ring_gpa (64 KiB of room)
 * with MSI-X vector `vector`, and enables it. */
void vpd_queue_setup(struct vpd *d, uint16_t n, uint16_t size, struct vdev_mem *mem,
                     uint64_t ring_gpa, uint16_t vector);
void vpd_driver_ok(struct vpd *d);
/* Notifies queue n through the notify structure (16-bit write of n). */
void vpd_notify(struct vpd *d, uint16_t n);
/* Waits for the eventfd of vector v (-1: INTx) for up to ms; true if it fired. */
bool vpd_wait_irq(struct vpd *d, int v, int ms);
void vpd_queues_free(struct vpd *d);

#endif
