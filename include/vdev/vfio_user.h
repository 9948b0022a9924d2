/* vfio_user.h — a vfio-user server: serves one device to one VMM client at a
 * time over a UNIX socket (QEMU docs/interop/vfio-user.rst).
 *
 * The server runs on the control loop it is given; every message is read,
 * checked and answered there. It reads in batches: one receive may bring several
 * queued messages, which are served in order ("Command Concurrency"); a message
 * that has not fully arrived waits for the rest without holding the loop.
 *
 * Commands served: VERSION, DMA_MAP, DMA_UNMAP, DEVICE_GET_INFO,
 * DEVICE_GET_REGION_INFO, DEVICE_GET_REGION_IO_FDS, DEVICE_GET_IRQ_INFO,
 * DEVICE_SET_IRQS, REGION_READ, REGION_WRITE, REGION_WRITE_MULTI (when the
 * client offers write_multiple), DEVICE_RESET, DEVICE_FEATURE (migration with
 * STOP_COPY and, as the device offers them, PRE_COPY and the P2P states; DMA
 * logging START/STOP/REPORT) and MIG_DATA_READ/WRITE. The server sends
 * DMA_READ/DMA_WRITE over the twin socket, which it sets up when the client
 * offers it.
 *
 * The device is transport-neutral: it implements struct vdev_vfu_device_ops and
 * never sees a message. Region accesses, irq setup, reset, DMA map changes and
 * migration reach it as calls, already checked against what it declared.
 *
 * Where the client comes from, one of socket_path (listened on; a stale socket
 * file is replaced, a live listener is -EADDRINUSE, another file -EEXIST; the
 * path is unlinked by vdev_vfu_server_free()), listen_fd (taken over) or conn_fd
 * (a connected socket, the spec's --fd; taken over: when that client goes, no
 * other can come). One client at a time: the next waits in the listen backlog.
 *
 * What a client does wrong gets an error reply (the errno in the header) and a
 * log line, and the connection lives. It is closed when the stream cannot be
 * trusted: a msg_size below 16 or above what any command takes, a reply that
 * cannot be sent, a major version we do not speak, an end of stream part-way
 * through a message. A reply is sent with io_timeout_ms: a client that stops
 * reading its replies is dropped after that.
 *
 * When the client goes ("Client Disconnection"): every DMA map is removed (the
 * device told first), every irq eventfd and the twin socket closed; the device
 * keeps its state, masks and migration state included.
 *
 * Threads: every call runs on the loop's thread, except _new and _free, which
 * may run on any thread while the loop is not running. */
#ifndef VDEV_VFIO_USER_H
#define VDEV_VFIO_USER_H

#include <linux/vfio.h>
#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_loop;
struct vdev_mem;
struct vdev_vfu_server;

/* What DEVICE_GET_INFO says. VFIO_DEVICE_FLAGS_RESET is added by the server
 * when the device has a reset op. */
struct vdev_vfu_device_info {
    uint32_t flags;          /* VFIO_DEVICE_FLAGS_PCI, ... */
    uint32_t num_regions;    /* at least VFIO_PCI_NUM_REGIONS for a PCI device */
    uint32_t num_irqs;       /* VFIO_PCI_NUM_IRQS for a PCI device */
};

#define VDEV_VFU_MAX_MMAP_AREAS 16

/* One region as the device declares it. size 0: the region does not exist
 * (flags must then be 0). */
struct vdev_vfu_region {
    uint64_t size;
    uint32_t flags;          /* VFIO_REGION_INFO_FLAG_READ / _WRITE / _MMAP */
    int fd;                  /* with _MMAP: the fd the client maps (borrowed:
                              * the server sends a copy); else -1 */
    uint64_t fd_offset;      /* where the region starts in fd */
    /* The parts the client may mmap, relative to the region; 0 areas with
     * _MMAP means the whole region (no sparse cap is sent). */
    uint32_t nr_mmap_areas;
    struct vfio_region_sparse_mmap_area mmap_areas[VDEV_VFU_MAX_MMAP_AREAS];
};

/* A sub-region whose accesses the client may route to an fd without a message
 * ("VFIO_USER_DEVICE_GET_REGION_IO_FDS"): an ioeventfd, or an ioregionfd. */
#define VDEV_VFU_IO_FD_IOEVENTFD   0u
#define VDEV_VFU_IO_FD_IOREGIONFD  1u
#define VDEV_VFU_MAX_IO_FDS        64
struct vdev_vfu_io_fd {
    uint64_t offset, size;   /* inside the region */
    int fd;                  /* borrowed: the server sends a copy; several
                              * sub-regions may share one */
    uint32_t type;           /* VDEV_VFU_IO_FD_* */
    uint32_t flags;          /* KVM_IOEVENTFD_FLAG_* or KVM_IOREGION_* */
    uint64_t datamatch;      /* or an ioregionfd's user_data */
};

/* The device. All calls on the loop's thread; opaque is the config's. Every
 * region access has been checked to lie inside the region and to be allowed
 * by its flags; len is at most max_data_xfer_size. Errors are negative errnos
 * and travel to the client. */
struct vdev_vfu_device_ops {
    int  (*get_info)(void *opaque, struct vdev_vfu_device_info *info);
    /* Called with *r zeroed and r->fd -1. */
    int  (*region_info)(void *opaque, uint32_t index, struct vdev_vfu_region *r);
    int  (*region_access)(void *opaque, uint32_t index, uint64_t offset, void *buf,
                          uint32_t len, bool is_write);
    /* count 0: the index exists with no vector. flags: VFIO_IRQ_INFO_*. */
    int  (*irq_info)(void *opaque, uint32_t index, uint32_t *count, uint32_t *flags);
    /* Optional. After SET_IRQS changed [start, start + count) of index; flags
     * are the message's (VFIO_IRQ_SET_DATA_* | VFIO_IRQ_SET_ACTION_*). */
    void (*set_irqs)(void *opaque, uint32_t index, uint32_t start, uint32_t count,
                     uint32_t flags);
    /* Optional; without it DEVICE_RESET is refused with ENOTSUP. */
    int  (*reset)(void *opaque);
    /* Optional. After a map was added (shared: the memory is in
     * vdev_vfu_server_mem()), and before one is removed (DMA_UNMAP, or the
     * client's end). prot: bit 0 readable, bit 1 writeable, as DMA_MAP says. */
    void (*dma_map)(void *opaque, uint64_t iova, uint64_t size, uint32_t prot,
                    bool shared);
    void (*dma_unmap)(void *opaque, uint64_t iova, uint64_t size);
    /* Optional. Called with true before the server changes the DMA memory map
     * (vdev_vfu_server_mem()) and with false after: a device whose worker
     * threads translate guest addresses stops them in between, since the map
     * may not change under them. When the client goes, only true is called
     * (its memory is gone); the next change calls false once a client has
     * mapped memory again. */
    void (*dma_quiesce)(void *opaque, bool quiesce);
    /* Optional. The io fd sub-regions of region index: at most max into out,
     * their number in *count (0: none). */
    int  (*region_io_fds)(void *opaque, uint32_t index, struct vdev_vfu_io_fd *out,
                          uint32_t max, uint32_t *count);

    /* Migration, optional: with all three the device supports
     * VFIO_MIGRATION_STOP_COPY ("VFIO_DEVICE_FEATURE_MIGRATION").
     * mig_arc makes one direct arc of the state machine (from -> to, values of
     * enum vfio_device_mig_state): RUNNING<->STOP, STOP<->STOP_COPY,
     * STOP<->RESUMING; longer paths are made of these by the server. An arc
     * that fails leaves the state where it was (RESUMING -> STOP fails when the
     * data loaded is incomplete or bad). Entering STOP_COPY starts a save,
     * entering RESUMING a load. mig_save fills at most len bytes of the saved
     * state and says how many in *done (fewer than len: no more); mig_load
     * takes the next len bytes of it. The migration state is device state: a
     * new client finds it; DEVICE_RESET returns it to RUNNING. */
    int  (*mig_arc)(void *opaque, uint32_t from, uint32_t to);
    int  (*mig_save)(void *opaque, void *buf, uint32_t len, uint32_t *done);
    int  (*mig_load)(void *opaque, const void *buf, uint32_t len);
    /* Optional: the VFIO_MIGRATION_* flags of the device (STOP_COPY is always
     * there; without this op it is the only one). With VFIO_MIGRATION_P2P,
     * RUNNING_P2P sits between RUNNING and STOP (mig_arc sees RUNNING <->
     * RUNNING_P2P <-> STOP instead of RUNNING <-> STOP); with
     * VFIO_MIGRATION_PRE_COPY, mig_arc also sees RUNNING <-> PRE_COPY and
     * PRE_COPY -> STOP_COPY, and with both PRE_COPY <-> PRE_COPY_P2P,
     * PRE_COPY_P2P -> RUNNING_P2P and PRE_COPY_P2P -> STOP_COPY (the arcs of
     * <linux/vfio.h>'s state machine; the server composes longer paths as the
     * kernel's vfio_mig_get_next_state() does). Entering PRE_COPY starts a save:
     * mig_save then gives the initial data (fewer than len: none more for now),
     * and the save goes on into STOP_COPY as one stream. */
    uint64_t (*mig_flags)(void *opaque);
};

/* PRE_COPY came with Linux 6.2's <linux/vfio.h>; older UAPI headers lack it.
 * Values from the kernel's header and vfio-user.rst ("MIG_DEVICE_STATE"). */
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY         (1 << 2)
#define VFIO_DEVICE_STATE_PRE_COPY      6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P  7
#endif

/* Defaults for the capabilities the server announces. */
#define VDEV_VFU_DEFAULT_MAX_MSG_FDS   16u
#define VDEV_VFU_DEFAULT_MAX_XFER      (1u << 20)
#define VDEV_VFU_DEFAULT_MAX_DMA_MAPS  65535u
#define VDEV_VFU_DEFAULT_PGSIZES       4096ull
#define VDEV_VFU_DEFAULT_TIMEOUT_MS    5000

struct vdev_vfu_server_config {
    struct vdev_loop *loop;                 /* borrowed */
    const struct vdev_vfu_device_ops *ops;  /* needs get_info, region_info,
                                             * region_access, irq_info */
    void *opaque;
    const char *socket_path;                /* exactly one of socket_path, */
    int listen_fd;                          /* listen_fd (else -1) */
    int conn_fd;                            /* and conn_fd (else -1) */
    uint32_t max_msg_fds;         /* fds we take in one message, 1..253 (0: 16) */
    uint32_t max_data_xfer_size;  /* largest region read/write, 1..64 MiB (0: 1 MiB) */
    uint32_t max_dma_maps;        /* (0: 65535) */
    uint64_t pgsizes;             /* DMA page sizes we take, or'ed (0: 4 KiB) */
    int io_timeout_ms;            /* for sending a reply (0: 5000) */
    void (*on_disconnect)(void *opaque);    /* optional, after a client has gone */
};

/* 0 and *out, or -EINVAL (missing ops, not exactly one source, a limit out of
 * range), -ENAMETOOLONG, -EADDRINUSE, -EEXIST, -ENOMEM or a socket errno. On
 * failure the fd given stays the caller's. */
VDEV_API int  vdev_vfu_server_new(const struct vdev_vfu_server_config *c,
                                  struct vdev_vfu_server **out);
/* Drops the client, closes the listening socket and unlinks socket_path. */
VDEV_API void vdev_vfu_server_free(struct vdev_vfu_server *s);

VDEV_API bool vdev_vfu_server_connected(const struct vdev_vfu_server *s);

/* The client's shared DMA memory (maps that came with an fd), by IOVA; NULL
 * while no client is connected. A window stays valid until its DMA_UNMAP or the
 * client's end, both of which the device hears of first (dma_unmap). */
VDEV_API struct vdev_mem *vdev_vfu_server_mem(struct vdev_vfu_server *s);

/* The device reads or writes client memory by DMA address (IOVA), on the
 * loop's thread. Windows shared with an fd are accessed in place; windows
 * without are reached with DMA_READ/DMA_WRITE messages over the twin socket,
 * when the client negotiated it (waiting for each reply up to io_timeout_ms).
 * 0, or -ENOTCONN, -EFAULT (part of the range is in no window), -EACCES (a
 * window without that access), -ENOTSUP (a window without fd and no twin
 * socket), the client's errno from an error reply, or a transport error (the
 * twin socket is then closed). */
VDEV_API int  vdev_vfu_server_dma_read(struct vdev_vfu_server *s, uint64_t iova,
                                       void *buf, uint64_t len);
VDEV_API int  vdev_vfu_server_dma_write(struct vdev_vfu_server *s, uint64_t iova,
                                        const void *buf, uint64_t len);

/* The client's trigger eventfd for vector of irq index (borrowed: valid until
 * the next SET_IRQS of that index or the client's end; dup it to keep it), for
 * a device that signals it directly from its own threads. -ENOTCONN, -ENOENT
 * (no eventfd set), -ERANGE. Masking by SET_IRQS is the server's: a device
 * that signals the fd itself only does so for an index without
 * VFIO_IRQ_INFO_MASKABLE. */
VDEV_API int  vdev_vfu_server_irq_fd(struct vdev_vfu_server *s, uint32_t index,
                                     uint32_t vector);

/* Signals vector of irq index on the client's trigger eventfd. 0, or -ENOTCONN,
 * -ENOENT (the index was never set up, or no eventfd is set), -ERANGE (no such
 * vector), -EAGAIN (masked: it is signalled when the client unmasks it), or the
 * write's errno. */
/* Records that the device wrote [iova, iova + len) of client memory by a way
 * the server does not see (vdev_mem_write() and vdev_vfu_server_dma_write()
 * to shared windows are recorded already): for DMA_LOGGING_REPORT and
 * DMA_UNMAP's dirty bitmap. On the loop's thread, or on a device worker while
 * the DMA map is not being changed (dma_quiesce). 0 (also when logging is off),
 * or -ENOTCONN. */
VDEV_API int  vdev_vfu_server_mark_dirty(struct vdev_vfu_server *s, uint64_t iova,
                                         uint64_t len);

VDEV_API int  vdev_vfu_server_irq_trigger(struct vdev_vfu_server *s, uint32_t index,
                                          uint32_t vector);

#ifdef __cplusplus
}
#endif

#endif
