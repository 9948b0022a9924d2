/* dev_sample.h — the sample PCI device: a DMA engine that copies between two
 * guest buffers when told to, and raises an MSI-X interrupt when it is done.
 * It is the device of docs/tutorial-pci-device.md: it shows the whole device
 * interface (IDs, BARs, MSI-X, region accesses, DMA through mem.h, reset,
 * migration) and nothing else.
 *
 * The function: vendor 0x1af4, device 0x10f1, class 0xff0000 (no defined
 * class, so no class driver binds it). QEMU's docs/specs/pci-ids.rst documents
 * 1af4:10f0..10ff as "available for experimental usage without registration";
 * 10f0 is vdev's virtio-pci test devices (virtio_pci.h), and the range lies
 * outside the virtio-pci IDs (1000..10ef) that virtio drivers bind. A product
 * built from this sample must get an ID of its own.
 *
 * BAR 0, 32-bit memory, 4 KiB: the registers below at 0, the MSI-X table (one
 * vector) at 0x800 and its PBA at 0xc00, both emulated by pci.h. Registers are
 * little endian, accessed 4 bytes at a time at 4-byte alignment; SRC and DST
 * also take an aligned 8-byte access. Other offsets below 0x800 read 0 and
 * ignore writes.
 *
 * A copy: the driver writes SRC, DST and LEN, then 1 to CMD. The device reads
 * LEN bytes of guest memory at SRC and writes them at DST, then sets DONE, or
 * ERROR with the reason in ERRNO (nothing was written: both ranges are checked
 * first), and raises MSI-X vector 0 either way. The copy runs synchronously in
 * the CMD write, on the thread that made the access (the transport's control
 * thread), so no worker exists to stop around a DMA map change or a reset.
 * The data goes through a buffer: overlapping ranges copy as memmove() does.
 *
 * Threads: one thread at a time (the transport's control thread). */
#ifndef VDEV_DEV_SAMPLE_H
#define VDEV_DEV_SAMPLE_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_mem;
struct vdev_pci;
struct vdev_pci_vfu_device;
struct vdev_sample;

#define VDEV_SAMPLE_VENDOR_ID     0x1af4
#define VDEV_SAMPLE_DEVICE_ID     0x10f1
#define VDEV_SAMPLE_CLASS         0xff0000u

#define VDEV_SAMPLE_BAR           0
#define VDEV_SAMPLE_BAR_SIZE      0x1000u
#define VDEV_SAMPLE_MSIX_OFF      0x800u   /* MSI-X table, in BAR 0 */
#define VDEV_SAMPLE_PBA_OFF       0xc00u   /* MSI-X PBA, in BAR 0 */
#define VDEV_SAMPLE_MSIX_VECTORS  1
#define VDEV_SAMPLE_IRQ_DONE      0        /* the vector a finished copy raises */

/* Registers (offsets in BAR 0). */
#define VDEV_SAMPLE_REG_ID        0x00u    /* RO: VDEV_SAMPLE_ID */
#define VDEV_SAMPLE_REG_VERSION   0x04u    /* RO: VDEV_SAMPLE_VERSION */
#define VDEV_SAMPLE_REG_SRC       0x08u    /* RW u64: source guest address */
#define VDEV_SAMPLE_REG_DST       0x10u    /* RW u64: destination guest address */
#define VDEV_SAMPLE_REG_LEN       0x18u    /* RW u32: bytes, 1..VDEV_SAMPLE_MAX_LEN */
#define VDEV_SAMPLE_REG_CMD       0x1cu    /* WO: VDEV_SAMPLE_CMD_COPY; reads 0 */
#define VDEV_SAMPLE_REG_STATUS    0x20u    /* VDEV_SAMPLE_STATUS_* */
#define VDEV_SAMPLE_REG_ERRNO     0x24u    /* RO: why the last copy failed (EFAULT:
                                            * not mapped, EACCES: no such access,
                                            * EINVAL: bad LEN, ENODEV: no memory,
                                            * ENOMEM: no buffer) */

#define VDEV_SAMPLE_ID            0x706d6173u   /* "samp", little endian */
#define VDEV_SAMPLE_VERSION       1u
#define VDEV_SAMPLE_MAX_LEN       (1u << 20)    /* bounds the time a CMD write takes */
#define VDEV_SAMPLE_CMD_COPY      1u            /* other values are ignored */

#define VDEV_SAMPLE_STATUS_BUSY   (1u << 0)     /* RO; never seen: copies are synchronous */
#define VDEV_SAMPLE_STATUS_DONE   (1u << 1)     /* write 1 to clear */
#define VDEV_SAMPLE_STATUS_ERROR  (1u << 2)     /* write 1 to clear */

struct vdev_sample_config {
    /* The guest memory DMA goes to, looked up at every copy (vfio-user's map
     * belongs to the client connected at that moment). NULL, or a NULL answer:
     * copies fail with ENODEV. */
    struct vdev_mem *(*dma_mem)(void *opaque);
    void *opaque;
};

/* 0, or -ENOMEM, or vdev_pci_new()'s error. */
VDEV_API int  vdev_sample_new(const struct vdev_sample_config *c, struct vdev_sample **out);
/* NULL is a no-op. */
VDEV_API void vdev_sample_free(struct vdev_sample *d);

/* The PCI function: its config space, MSI-X table and interrupt eventfds. */
VDEV_API struct vdev_pci *vdev_sample_pci(struct vdev_sample *d);

/* A BAR access that vdev_pci_bar_access() did not take. 0, or -EINVAL (not
 * BAR 0, outside it, a size or alignment the register does not take). A failed
 * copy is not an error of the access: it is reported in STATUS and ERRNO. */
VDEV_API int  vdev_sample_bar_access(struct vdev_sample *d, unsigned bar, uint64_t off,
                                     void *buf, uint32_t len, bool write);

/* Migration. A stopped device drops a copy command (with a log line): it must
 * not touch guest memory or raise an interrupt until it runs again (VFIO's
 * STOP state, <linux/vfio.h>). A new or reset device runs. */
VDEV_API void vdev_sample_set_running(struct vdev_sample *d, bool running);

/* The device's registers as a byte stream (little endian: magic,
 * version, payload length, payload). The PCI function's own state (config
 * space, MSI-X table) is not in it: pci.h has no save/load yet.
 * save: 0 and *len, or -ENOSPC if cap < VDEV_SAMPLE_STATE_SIZE.
 * load: 0, or -EBADMSG (wrong magic, a length that does not match, a status
 * bit that cannot be set), -EPROTONOSUPPORT (another version); on error
 * nothing changed. */
#define VDEV_SAMPLE_STATE_SIZE    40u
VDEV_API int  vdev_sample_save(const struct vdev_sample *d, void *buf, size_t cap,
                               size_t *len);
VDEV_API int  vdev_sample_load(struct vdev_sample *d, const void *buf, size_t len);

/* The device as pci_vfu.h serves it over vfio-user: its BAR accesses and its
 * migration (save and load above); the adapter's opaque is the device. */
VDEV_API const struct vdev_pci_vfu_device *vdev_sample_vfu_device(void);

#ifdef __cplusplus
}
#endif

#endif
