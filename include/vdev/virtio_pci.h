/* virtio_pci.h — a virtio device as a PCI function: the modern virtio-pci
 * transport (virtio 1.2, 4.1), on pci.h's function model and workers.h's
 * threads. Whatever carries PCI to a driver (vfio-user's server) routes config
 * space and BAR accesses here; the device (virtio_dev.h) sees its queues and
 * its configuration, exactly as over vhost-user.
 *
 * The function: vendor 0x1af4, device 0x1040 + the virtio device ID (0x10f0
 * for IDs past 0x3f, vdev's test devices), revision 1 (non-transitional,
 * 4.1.2.1). BAR 0 (64-bit memory, 16 KiB) holds the common
 * configuration at 0x0000, the ISR status at 0x1000, the device configuration at
 * 0x2000 and the notifications at 0x3000 (queue n at 0x3000 + 4 n:
 * notify_off_multiplier 4, queue_notify_off n). BAR 2 (32-bit memory, 8 KiB)
 * holds the MSI-X table (one vector per queue plus one for configuration
 * changes) at 0 and the PBA at 0x1000. INTA# is the fallback without MSI-X.
 * Capabilities: the five virtio structures (common, notify, ISR, device, PCI
 * configuration access), MSI-X, power management.
 *
 * Threads: the access functions run on one control thread. Each queue's kick
 * arrives on its eventfd (vdev_virtio_pci_notify_fd) which its worker watches:
 * a driver that writes the notify address through the control thread and one
 * that writes the eventfd directly (an ioeventfd) are served alike. Used-buffer
 * interrupts go out from the workers through pci.h's vdev_pci_irq(), which
 * honours MSI-X masking.
 *
 * Memory: queues translate guest addresses through mem (the DMA map). Whoever
 * changes it calls vdev_virtio_pci_quiesce() before and vdev_virtio_pci_resume()
 * after. */
#ifndef VDEV_VIRTIO_PCI_H
#define VDEV_VIRTIO_PCI_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_mem;
struct vdev_pci;
struct vdev_virtio_dev;
struct vdev_virtio_pci;
struct vdev_workers;

#define VDEV_VIRTIO_PCI_BAR            0        /* the virtio structures */
#define VDEV_VIRTIO_PCI_BAR_SIZE       0x4000u
#define VDEV_VIRTIO_PCI_COMMON_OFF     0x0000u
#define VDEV_VIRTIO_PCI_ISR_OFF        0x1000u
#define VDEV_VIRTIO_PCI_DEVICE_OFF     0x2000u
#define VDEV_VIRTIO_PCI_NOTIFY_OFF     0x3000u
#define VDEV_VIRTIO_PCI_NOTIFY_MULT    4u
#define VDEV_VIRTIO_PCI_MSIX_BAR       2
#define VDEV_VIRTIO_PCI_MSIX_BAR_SIZE  0x2000u
#define VDEV_VIRTIO_PCI_MSIX_PBA_OFF   0x1000u
#define VDEV_VIRTIO_PCI_MAX_QUEUES     256u

struct vdev_virtio_pci_config {
    struct vdev_virtio_dev *dev;     /* borrowed; needs features, num_queues,
                                      * queue_start, queue_kick, queue_stop */
    struct vdev_workers *workers;    /* borrowed */
    struct vdev_mem *mem;            /* borrowed: guest addresses of the rings;
                                      * may be NULL until vdev_virtio_pci_set_mem() */
};

/* 0, -EINVAL (a missing op, no queues or more than VDEV_VIRTIO_PCI_MAX_QUEUES,
 * a configuration space over 4 KiB), -ENOMEM, or an eventfd's error. */
VDEV_API int  vdev_virtio_pci_new(const struct vdev_virtio_pci_config *c,
                                  struct vdev_virtio_pci **out);
/* Stops every queue; frees the function and the eventfds. NULL is a no-op. */
VDEV_API void vdev_virtio_pci_free(struct vdev_virtio_pci *vp);

/* The PCI function, for the transport's region and IRQ information and its
 * SET_IRQS eventfds (vdev_pci_set_irq_fd). */
VDEV_API struct vdev_pci *vdev_virtio_pci_function(struct vdev_virtio_pci *vp);

/* Config space access (the PCI configuration access capability's window is
 * served here, the rest by pci.h). 0 or -EINVAL, as vdev_pci_config_read. */
VDEV_API int vdev_virtio_pci_config_access(struct vdev_virtio_pci *vp, uint64_t off,
                                           void *buf, size_t len, bool write);
/* A BAR access: 0, or -EINVAL for one outside the BAR or of a size the
 * structure it falls in does not take (reads then return all ones, as a PCI
 * read nobody claims). Accesses while decoding is off are dropped (reads all
 * ones). */
VDEV_API int vdev_virtio_pci_bar_access(struct vdev_virtio_pci *vp, unsigned bar,
                                        uint64_t off, void *buf, size_t len, bool write);

/* Queue n's kick eventfd (the transport's ioeventfd for the 4 bytes at
 * VDEV_VIRTIO_PCI_NOTIFY_OFF + 4 n of the BAR), owned by vp; -ERANGE. */
VDEV_API int vdev_virtio_pci_notify_fd(struct vdev_virtio_pci *vp, unsigned n);

/* Around a change of mem: stops the running queues keeping their positions,
 * then starts them again where they were. */
VDEV_API void vdev_virtio_pci_quiesce(struct vdev_virtio_pci *vp);
VDEV_API void vdev_virtio_pci_resume(struct vdev_virtio_pci *vp);
/* The map the queues translate through from now on (NULL: none; a queue
 * cannot start then). Only while quiesced, or before any queue runs. */
VDEV_API void vdev_virtio_pci_set_mem(struct vdev_virtio_pci *vp, struct vdev_mem *mem);

/* A reset from outside (the transport's device reset, a function-level reset):
 * as a write of 0 to device_status. */
VDEV_API void vdev_virtio_pci_reset(struct vdev_virtio_pci *vp);

/* The device's configuration changed: configuration generation moves on, ISR
 * bit 1, the configuration vector (4.1.4.5, 4.1.5.3). */
VDEV_API void vdev_virtio_pci_config_changed(struct vdev_virtio_pci *vp);

/* device_status as the driver last set it (with NEEDS_RESET when set). */
VDEV_API uint8_t vdev_virtio_pci_status(const struct vdev_virtio_pci *vp);

/* Migration (the transport's set_running/save/load, e.g. pci_vfu.h's hooks).
 * set_running(false): the queues stop keeping their ring positions
 *   (vdev_vq_get_base) and nothing starts one (DRIVER_OK, queue_enable, the end
 *   of a DMA change) until set_running(true), which starts the queues that ran
 *   or that the driver started meanwhile, where they were; with no memory
 *   (vdev_virtio_pci_set_mem) yet, they start at the next resume. Returns 0.
 *   A reset from outside (vdev_virtio_pci_reset, vdev_pci_reset) also ends the
 *   stop, as a VFIO device reset returns the migration state to RUNNING.
 * save (stopped only, else -EBUSY): status, features, selectors, config vector,
 *   generation and ISR, every queue's size, enable, vector, ring addresses and
 *   position, the function's state (pci.h) and the device's (ops->save); *len
 *   bytes, at most state_max. -ENOSPC, or the device's error.
 * load (stopped only, else -EBUSY): the whole stream is checked first; one of
 *   another layout (queue count, features offered, config size, the PCI
 *   function's layout) or with a value out of range is refused with -EINVAL
 *   and nothing changed; the device's ops->set_features and ops->load get its
 *   part. The queues that ran start at their positions at set_running(true)
 *   and serve what the driver made available meanwhile. */
VDEV_API int    vdev_virtio_pci_set_running(struct vdev_virtio_pci *vp, bool running);
VDEV_API size_t vdev_virtio_pci_state_max(struct vdev_virtio_pci *vp);
VDEV_API int    vdev_virtio_pci_save(struct vdev_virtio_pci *vp, void *buf, size_t cap,
                                     size_t *len);
VDEV_API int    vdev_virtio_pci_load(struct vdev_virtio_pci *vp, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
