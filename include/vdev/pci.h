/* pci.h — a PCI function, as its driver sees it: config space, BAR layout,
 * capabilities, and its interrupts (INTx, MSI, MSI-X).
 *
 * A device declares its function with a struct vdev_pci_config; a transport
 * (vfio-user's server) drives it: config space accesses go to
 * vdev_pci_config_read/write, BAR accesses go first to vdev_pci_bar_access (which
 * emulates the MSI-X table and PBA) and, if it did not take them, to the device.
 * The module knows no socket and no message.
 *
 * Every register offset and bit is the one of <linux/pci_regs.h>. Config space is
 * 256 bytes, or 4096 when the function has a PCI Express capability (extended
 * capabilities start at 0x100).
 *
 * Threads: one lock per function guards its config space, MSI-X table, pending
 * bits and eventfds. vdev_pci_irq (worker threads) and the config/BAR accessors
 * (control thread) take it for a few loads and at most one eventfd write each; no
 * callback is ever called with the lock held, so a device may call any function
 * here from its callbacks. */
#ifndef VDEV_PCI_H
#define VDEV_PCI_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_pci;

enum vdev_pci_bar_type {
    VDEV_PCI_BAR_NONE = 0,   /* not implemented: the register reads 0, ignores writes */
    VDEV_PCI_BAR_IO,         /* I/O space, 4..256 bytes */
    VDEV_PCI_BAR_MEM32,      /* 32-bit memory space, 16 bytes..2 GiB */
    VDEV_PCI_BAR_MEM64,      /* 64-bit memory space, takes this slot and the next */
};

struct vdev_pci_bar {
    enum vdev_pci_bar_type type;
    uint64_t size;           /* a power of two within the type's range */
    bool prefetchable;       /* memory BARs only */
};

/* MSI-X (PCI Local Bus 3.0, 6.8.2): the table and the PBA live in memory BARs
 * and are emulated here. vectors == 0: no MSI-X capability. */
struct vdev_pci_msix {
    uint16_t vectors;        /* 1..2048 */
    uint8_t table_bar;
    uint32_t table_offset;   /* 8-byte aligned; vectors * 16 bytes inside the BAR */
    uint8_t pba_bar;
    uint32_t pba_offset;     /* 8-byte aligned; (vectors + 63) / 64 * 8 bytes */
};

/* MSI (6.8.1). vectors == 0: no MSI capability. */
struct vdev_pci_msi {
    uint8_t vectors;         /* 1, 2, 4, 8, 16 or 32 */
    bool addr64;             /* 64-bit message address */
    bool per_vector_mask;    /* mask and pending registers */
};

/* PCI Express capability (PCIe base 4.0, 7.5.3), version 2. */
struct vdev_pci_express {
    bool present;
    bool root_complex_integrated;   /* PCI_EXP_TYPE_RC_END (no link), else ENDPOINT */
    bool flr;                       /* function-level reset advertised */
};

/* A vendor-specific capability (PCI_CAP_ID_VNDR). data[0..1] (ID, next) are
 * filled in here, data[2] (length) is set to len; the rest is the device's.
 * wmask, if not NULL, has len bytes: the bits the driver may write (its first
 * three bytes are ignored: the header is read-only). */
struct vdev_pci_vendor_cap {
    const uint8_t *data;
    uint8_t len;             /* 3..(space left); the capability is 4-byte aligned */
    const uint8_t *wmask;
};

/* A vendor-specific extended capability (PCI_EXT_CAP_ID_VNDR, PCIe 7.9.5), PCIe
 * functions only. The 8-byte header is built here; data is what follows it. */
struct vdev_pci_vendor_ext_cap {
    uint16_t vsec_id;
    uint8_t vsec_rev;        /* 0..15 */
    const uint8_t *data;
    uint16_t len;            /* bytes after the header: 8 + len <= 0xfff (the VSEC
                              * length field), and all of them fit below 4096 */
};

#define VDEV_PCI_MAX_VENDOR_CAPS 8

struct vdev_pci_config {
    uint16_t vendor_id, device_id;
    uint16_t subsystem_vendor_id, subsystem_id;
    uint32_t class_code;     /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
    uint8_t interrupt_pin;   /* 0: no INTx; 1..4: INTA#..INTD# */
    struct vdev_pci_bar bars[6];
    struct vdev_pci_msix msix;
    struct vdev_pci_msi msi;
    bool pm;                 /* power management capability: D0 and D3hot */
    struct vdev_pci_express pcie;
    struct vdev_pci_vendor_cap vendor_caps[VDEV_PCI_MAX_VENDOR_CAPS];
    unsigned n_vendor_caps;
    struct vdev_pci_vendor_ext_cap vendor_ext_caps[VDEV_PCI_MAX_VENDOR_CAPS];
    unsigned n_vendor_ext_caps;
};

enum vdev_pci_reset_kind {
    VDEV_PCI_RESET_FLR,      /* the driver wrote Initiate Function Level Reset */
    VDEV_PCI_RESET_BUS,      /* vdev_pci_reset(): the transport reset the function */
};

struct vdev_pci_ops {
    /* The function's config space, MSI-X table and pending bits are already back
     * at their reset values; the device resets its own state. Called without the
     * lock, on the thread that made the access. May be NULL. */
    void (*reset)(void *opaque, enum vdev_pci_reset_kind kind);
};

/* Checks cfg and builds the function. cfg and what it points to are copied.
 * Returns 0, -EINVAL (a field out of range, overlapping MSI-X table and PBA, a
 * table outside its BAR, capabilities that do not fit), -ENOMEM. */
VDEV_API int  vdev_pci_new(const struct vdev_pci_config *cfg, const struct vdev_pci_ops *ops,
                           void *opaque, struct vdev_pci **out);
/* Closes the function's eventfd copies. NULL is a no-op. */
VDEV_API void vdev_pci_free(struct vdev_pci *pci);

/* 256 or 4096. */
VDEV_API size_t vdev_pci_config_size(const struct vdev_pci *pci);

/* A config space access at [off, off + len): len 1, 2, or a multiple of 4 (a
 * larger access is done 4 bytes at a time), any alignment. Read-only bits ignore
 * writes, write-1-to-clear bits clear. -EINVAL (any other len, e.g. 0, 3 or 6;
 * past the end), and then nothing changed. */
VDEV_API int vdev_pci_config_read(struct vdev_pci *pci, uint64_t off, void *buf, size_t len);
VDEV_API int vdev_pci_config_write(struct vdev_pci *pci, uint64_t off, const void *buf,
                                   size_t len);

/* A BAR access at [off, off + len). Returns len if it fell in the MSI-X table or
 * PBA and was done here, 0 if it touches neither (the device serves it), -EINVAL
 * if it does but is not an aligned 4- or 8-byte access inside one of them, or
 * bar > 5. Writes to the PBA are ignored (read-only). */
VDEV_API int vdev_pci_bar_access(struct vdev_pci *pci, unsigned bar, uint64_t off,
                                 void *buf, size_t len, bool write);

/* The size of a BAR (0 if not implemented; for a 64-bit BAR, its upper slot
 * reads 0) and whether it is I/O. For the transport's region info. */
VDEV_API uint64_t vdev_pci_bar_size(const struct vdev_pci *pci, unsigned bar, bool *is_io);

/* Whether the driver enabled decoding of a BAR: command register I/O or memory
 * space bit for the BAR's type, and power state D0. */
VDEV_API bool vdev_pci_bar_enabled(struct vdev_pci *pci, unsigned bar);

/* Interrupts. The kinds are VFIO's irq indexes: <linux/vfio.h>
 * VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX. */
enum vdev_pci_irq_mode {
    VDEV_PCI_IRQ_NONE = -1,  /* neither MSI-X nor MSI enabled, and no INTx pin */
    VDEV_PCI_IRQ_INTX = 0,
    VDEV_PCI_IRQ_MSI = 1,
    VDEV_PCI_IRQ_MSIX = 2,
};

/* Vectors of a kind: 1 for INTx if it has a pin, the MSI and MSI-X counts. */
VDEV_API unsigned vdev_pci_irq_count(const struct vdev_pci *pci, enum vdev_pci_irq_mode kind);

/* What the driver enabled: MSI-X, else MSI, else INTx (even if the command
 * register's INTx disable bit is set: then INTx interrupts are held pending). */
VDEV_API enum vdev_pci_irq_mode vdev_pci_irq_mode(struct vdev_pci *pci);

/* The eventfd that delivers vector `vector` of kind `kind`; the function keeps a
 * duplicate (the caller keeps and closes its own fd). fd -1 removes it. Returns
 * 0, -EINVAL (kind or vector out of range), -EBADF, -EMFILE. */
VDEV_API int vdev_pci_set_irq_fd(struct vdev_pci *pci, enum vdev_pci_irq_mode kind,
                                 unsigned vector, int fd);

/* Raises interrupt `vector` in the mode the driver enabled:
 *  - MSI-X: fires the vector's eventfd, or sets its pending bit if the vector or
 *    the function is masked (unmasking later fires it and clears the bit). The
 *    per-vector mask bits apply once the driver has written the table: a VMM
 *    that emulates the table itself (QEMU, for vfio devices) never writes it
 *    and masks through its own eventfds, and the reset state, every entry
 *    masked, would otherwise hold its interrupts for ever;
 *  - MSI: vector is folded to the enabled count; fires or, if the vector is masked
 *    (per-vector masking), sets its pending bit;
 *  - INTx: sets the status register's interrupt bit; fires unless the command
 *    register's INTx disable bit is set (clearing it then fires).
 * Returns 0 (fired or held pending), -EINVAL (MSI-X vector out of range),
 * -ENOENT (no eventfd for it: lost, as on real hardware with no handler),
 * -ENODEV (no interrupt mode enabled). Thread-safe.
 * Bus Master Enable is not looked at: a driver that enables MSI or MSI-X with it
 * clear gets its interrupts anyway, rather than losing them silently. */
VDEV_API int vdev_pci_irq(struct vdev_pci *pci, unsigned vector);

/* INTx is a level: the device lowers it when the driver acknowledged the cause. */
VDEV_API void vdev_pci_intx_deassert(struct vdev_pci *pci);

/* A reset of the function from outside (a transport's device reset): config
 * space, MSI-X table and pending bits to their reset values, then ops->reset with
 * VDEV_PCI_RESET_BUS. Eventfds stay. */
VDEV_API void vdev_pci_reset(struct vdev_pci *pci);

/* The device records an error in the status register: bits among its
 * write-1-to-clear error bits (PCI_STATUS_SIG_TARGET_ABORT, _REC_MASTER_ABORT,
 * ...), which the driver clears by writing 1. -EINVAL for any other bit. */
VDEV_API int vdev_pci_set_status_bits(struct vdev_pci *pci, uint16_t bits);

/* Offset of the nth (0-based) capability with this ID in the standard list, or
 * 0 if there is none. For the device to find its vendor capabilities. */
VDEV_API unsigned vdev_pci_find_cap(struct vdev_pci *pci, uint8_t cap_id, unsigned nth);

/* Migration: the function's state as a byte stream (config space, with MSI's
 * registers and the INTx level; the MSI-X table and pending bits), with a
 * magic, a version and its length. Eventfds are not part of it.
 * vdev_pci_state_size: the stream's exact length for this function.
 * vdev_pci_save: writes it; returns its length, or -ENOSPC if cap is smaller.
 * vdev_pci_load: takes a stream vdev_pci_save wrote on a function of the same
 *   layout (config size, MSI-X vectors, and every bit no driver can write:
 *   IDs, BARs, capabilities); -EINVAL for any other, and then nothing changed.
 *   Only bits a driver or the device could have changed are taken from it.
 *   It fires nothing: a vector pending in the stream goes out when unmasked.
 * Thread-safe; the device should be stopped so its state does not move. */
VDEV_API size_t vdev_pci_state_size(const struct vdev_pci *pci);
VDEV_API int vdev_pci_save(struct vdev_pci *pci, void *buf, size_t cap);
VDEV_API int vdev_pci_load(struct vdev_pci *pci, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
