/* vfio_user_client.h — a vfio-user client: drives any vfio-user server (vdev's,
 * libvfio-user's, SPDK's) from plain userspace, with no VM, for tests,
 * benchmarks and users. It follows QEMU's docs/interop/vfio-user.rst; section
 * names below are that document's.
 *
 * One call per command. Each sends exactly the message the spec describes and
 * checks the reply: the Reply type, the same message id and command, no flag
 * but Error, the exact payload size for that command, the fds it may carry.
 *
 *     vdev_vfuc_connect(path, 1000, &c);
 *     vdev_vfuc_negotiate(c, NULL, &caps);
 *     vdev_vfuc_dma_map(c, iova, size, memfd, 0, VDEV_VFUC_DMA_RW);
 *     vdev_vfuc_region_read(c, VFIO_PCI_BAR0_REGION_INDEX, 0, &v, 4);
 *     vdev_vfuc_close(c);
 *
 * The errors:
 *   -ENOTCONN    no connection (closed after an error)
 *   -EPROTO      the server broke the protocol: the connection is now closed
 *   -ETIMEDOUT   no complete reply in the timeout: the connection is now closed
 *   -EPIPE, -ECONNRESET  the server went away: the connection is now closed
 *   -E<errno>    the server answered with the Error flag and that errno (EEXIST,
 *                ENOENT, EINVAL, ...); -EREMOTEIO if it gave errno 0. Still
 *                connected.
 *   -EINVAL      bad arguments (nothing was sent), or the server's EINVAL
 *   -E2BIG       a transfer above the server's max_data_xfer_size (not sent)
 *
 * The server's own commands, DMA_READ and DMA_WRITE of windows mapped without
 * fd, are served from the memory given to vdev_vfuc_dma_map_local(): on the
 * twin socket (offered in vdev_vfuc_negotiate()) whenever a call waits for a
 * reply or in vdev_vfuc_serve(), and on the main socket while a call waits.
 *
 * Threads: one thread at a time per client. */
#ifndef VDEV_VFIO_USER_CLIENT_H
#define VDEV_VFIO_USER_CLIENT_H

#include <linux/vfio.h>
#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_vfuc;

#define VDEV_VFUC_DMA_READ   (1u << 0)
#define VDEV_VFUC_DMA_WRITE  (1u << 1)
#define VDEV_VFUC_DMA_RW     (VDEV_VFUC_DMA_READ | VDEV_VFUC_DMA_WRITE)

/* What we propose in VERSION; 0 takes the default. */
struct vdev_vfuc_offer {
    uint32_t max_msg_fds;          /* fds we take in one reply (default 8) */
    uint32_t max_data_xfer_size;   /* (default 1 MiB) */
    uint64_t pgsizes;              /* (default 4 KiB) */
    uint32_t max_dma_maps;         /* (default 65535) */
    bool twin_socket;              /* offer twin-socket mode */
    bool write_multiple;           /* offer to send REGION_WRITE_MULTI */
};

/* What the server answered to VERSION, defaults filled in ("Version"). */
struct vdev_vfuc_caps {
    uint16_t major, minor;
    uint32_t max_msg_fds;          /* fds the server takes in one command */
    uint32_t max_data_xfer_size;   /* largest REGION_READ/WRITE count */
    uint64_t pgsizes;
    uint32_t max_dma_maps;
    bool write_multiple;           /* the server takes REGION_WRITE_MULTI */
    bool twin_socket;              /* the server set up the twin socket */
};

/* A region as DEVICE_GET_REGION_INFO describes it. */
#define VDEV_VFUC_MAX_AREAS 16
struct vdev_vfuc_region {
    struct vfio_region_info info;  /* argsz, flags, index, cap_offset, size, offset */
    uint32_t nr_areas;             /* sparse mmap areas (when the cap came) */
    struct vfio_region_sparse_mmap_area areas[VDEV_VFUC_MAX_AREAS];
    int fd;                        /* with VFIO_REGION_INFO_FLAG_MMAP: now the
                                    * caller's; else -1 */
};

/* Connects to a server's socket; timeout_ms bounds the connect and every
 * later request (-1: none). */
VDEV_API int  vdev_vfuc_connect(const char *path, int timeout_ms, struct vdev_vfuc **out);
/* Takes over a connected socket (the fd is the client's from now, even on
 * failure). */
VDEV_API int  vdev_vfuc_from_fd(int fd, int timeout_ms, struct vdev_vfuc **out);
/* Closes the connection. NULL is a no-op. */
VDEV_API void vdev_vfuc_close(struct vdev_vfuc *c);
VDEV_API bool vdev_vfuc_connected(const struct vdev_vfuc *c);

/* VERSION: proposes 0.0 and offer (NULL: defaults), checks the reply (same
 * major, minor not above ours, valid capabilities JSON, no twin socket we did
 * not ask for) and returns the server's capabilities in *caps (may be NULL). */
VDEV_API int  vdev_vfuc_negotiate(struct vdev_vfuc *c, const struct vdev_vfuc_offer *offer,
                                  struct vdev_vfuc_caps *caps);

/* DMA_MAP of [iova, iova + size): fd is the memory (borrowed; -1: not shared,
 * offset then 0, and the server cannot reach it); prot VDEV_VFUC_DMA_*. */
VDEV_API int  vdev_vfuc_dma_map(struct vdev_vfuc *c, uint64_t iova, uint64_t size, int fd,
                                uint64_t offset, uint32_t prot);
/* DMA_MAP without fd of host memory the client serves to the server's
 * DMA_READ/DMA_WRITE; host must stay valid until the window is unmapped. */
VDEV_API int  vdev_vfuc_dma_map_local(struct vdev_vfuc *c, uint64_t iova, uint64_t size,
                                      void *host, uint32_t prot);

/* Serves the server's commands on the twin socket for up to timeout_ms (-1:
 * until one comes): 1 when one was served, 0 on timeout, -ENOTSUP without a
 * twin socket, or an error (the twin socket is then closed). */
VDEV_API int  vdev_vfuc_serve(struct vdev_vfuc *c, int timeout_ms);

/* DMA_UNMAP of exactly a window mapped before; flags
 * VFIO_DMA_UNMAP_FLAG_ALL with iova and size 0 unmaps all. */
VDEV_API int  vdev_vfuc_dma_unmap(struct vdev_vfuc *c, uint64_t iova, uint64_t size,
                                  uint32_t flags);

VDEV_API int  vdev_vfuc_device_info(struct vdev_vfuc *c, struct vfio_device_info *out);
/* On success out->fd may hold an fd the caller must close. */
VDEV_API int  vdev_vfuc_region_info(struct vdev_vfuc *c, uint32_t index,
                                    struct vdev_vfuc_region *out);
VDEV_API int  vdev_vfuc_irq_info(struct vdev_vfuc *c, uint32_t index,
                                 struct vfio_irq_info *out);

/* One sub-region of DEVICE_GET_REGION_IO_FDS; fd_index names one of the fds
 * returned with it. */
struct vdev_vfuc_io_fd {
    uint64_t offset, size;
    uint32_t fd_index;
    uint32_t type;                 /* 0 ioeventfd, 1 ioregionfd */
    uint32_t flags;
    uint64_t datamatch;            /* or user_data */
};

/* DEVICE_GET_REGION_IO_FDS of region index: up to max sub-regions into subs,
 * *count of them; the distinct fds (now the caller's) into fds, *nfds of them
 * (at most 8). -E2BIG (nothing kept) when the region has more than max:
 * *count then says how many. */
VDEV_API int  vdev_vfuc_region_io_fds(struct vdev_vfuc *c, uint32_t index,
                                      struct vdev_vfuc_io_fd *subs, uint32_t max,
                                      uint32_t *count, int *fds, size_t *nfds);

/* DEVICE_SET_IRQS. flags: one VFIO_IRQ_SET_DATA_* and one VFIO_IRQ_SET_ACTION_*.
 * data: NULL for DATA_NONE; count bytes (uint8_t) for DATA_BOOL; count ints for
 * DATA_EVENTFD, where -1 de-assigns that vector (the fds are borrowed). Eventfds
 * go in as many messages as the server's max_msg_fds asks; a run of -1 goes
 * without fds. */
VDEV_API int  vdev_vfuc_set_irqs(struct vdev_vfuc *c, uint32_t index, uint32_t flags,
                                 uint32_t start, uint32_t count, const void *data);

/* REGION_READ / REGION_WRITE of len bytes (at most max_data_xfer_size). A
 * posted write is sent with No_reply and returns once sent; the server applies
 * it before it answers any later command ("Command Concurrency"). */
VDEV_API int  vdev_vfuc_region_read(struct vdev_vfuc *c, uint32_t index, uint64_t offset,
                                    void *buf, uint32_t len);
VDEV_API int  vdev_vfuc_region_write(struct vdev_vfuc *c, uint32_t index, uint64_t offset,
                                     const void *buf, uint32_t len, bool posted);

/* One write of REGION_WRITE_MULTI: at most 8 bytes. */
struct vdev_vfuc_write {
    uint64_t offset;
    uint32_t region;
    uint32_t count;                /* 1..8 */
    uint8_t data[8];
};

/* REGION_WRITE_MULTI of n writes (1..4096), which the server must have
 * accepted in VERSION (write_multiple; else -ENOTSUP, nothing sent). posted:
 * No_reply, as for vdev_vfuc_region_write(). */
VDEV_API int  vdev_vfuc_region_write_multi(struct vdev_vfuc *c,
                                           const struct vdev_vfuc_write *w, uint32_t n,
                                           bool posted);

VDEV_API int  vdev_vfuc_reset(struct vdev_vfuc *c);

/* Migration ("VFIO_USER_DEVICE_FEATURE", "VFIO_USER_MIG_DATA_READ"). States
 * are enum vfio_device_mig_state.
 *   feature_probe  0 when the server supports feature index with ops
 *                  (VFIO_DEVICE_FEATURE_GET and/or _SET), else its -errno
 *   mig_flags      VFIO_DEVICE_FEATURE_MIGRATION: VFIO_MIGRATION_* flags
 *   mig_state / mig_set_state  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE
 *   mig_read       up to len bytes of the saved state (STOP_COPY); *got less
 *                  than len: no more
 *   mig_write      the next len bytes of the state to load (RESUMING)
 * len is at most the server's max_data_xfer_size (else -E2BIG, not sent). */
VDEV_API int  vdev_vfuc_feature_probe(struct vdev_vfuc *c, uint32_t index, uint32_t ops);
VDEV_API int  vdev_vfuc_mig_flags(struct vdev_vfuc *c, uint64_t *flags);
VDEV_API int  vdev_vfuc_mig_state(struct vdev_vfuc *c, uint32_t *state);
VDEV_API int  vdev_vfuc_mig_set_state(struct vdev_vfuc *c, uint32_t state);
VDEV_API int  vdev_vfuc_mig_read(struct vdev_vfuc *c, void *buf, uint32_t len,
                                 uint32_t *got);
VDEV_API int  vdev_vfuc_mig_write(struct vdev_vfuc *c, const void *buf, uint32_t len);

/* DMA dirty page logging ("VFIO_DEVICE_FEATURE_DMA_LOGGING_START", "..._REPORT").
 *   dma_logging_start   logs device writes to n ranges (0: the server's choice,
 *                       vdev's logs the windows mapped now); *page_size is the
 *                       hint in, the page size the server chose out
 *   dma_logging_stop
 *   dma_logging_report  the bitmap of [iova, iova + len) at page_size (a power
 *                       of two; iova and len multiples of it) into bitmap, which
 *                       holds at least vdev_vfuc_bitmap_bytes(len, page_size);
 *                       the server clears what it reports
 *   dma_unmap_dirty     DMA_UNMAP of a window with VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP:
 *                       its bitmap at page_size, taken before it goes
 * A bitmap is u64s, bit (addr - iova) / page_size for the page at addr. */
#define VDEV_VFUC_DIRTY_PAGE 4096ull

/* PRE_COPY came with Linux 6.2's <linux/vfio.h>; older UAPI headers lack it
 * (values from that header and vfio-user.rst; the same block as vfio_user.h). */
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY         (1 << 2)
#define VFIO_DEVICE_STATE_PRE_COPY      6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P  7
#endif
VDEV_API uint64_t vdev_vfuc_bitmap_bytes(uint64_t len, uint64_t page_size);
VDEV_API int  vdev_vfuc_dma_logging_start(struct vdev_vfuc *c, uint64_t *page_size,
                                          const struct vfio_device_feature_dma_logging_range *ranges,
                                          uint32_t n);
VDEV_API int  vdev_vfuc_dma_logging_stop(struct vdev_vfuc *c);
VDEV_API int  vdev_vfuc_dma_logging_report(struct vdev_vfuc *c, uint64_t iova,
                                           uint64_t len, uint64_t page_size,
                                           void *bitmap, uint64_t bitmap_bytes);
VDEV_API int  vdev_vfuc_dma_unmap_dirty(struct vdev_vfuc *c, uint64_t iova, uint64_t size,
                                        uint64_t page_size, void *bitmap,
                                        uint64_t bitmap_bytes);

/* A migration from the device behind src to the one behind dst (both
 * negotiated; client_migrate.c has the steps): src logs DMA writes to ranges
 * (nranges 0: none), goes through PRE_COPY when it offers it, then STOP_COPY,
 * and ends in STOP; dst goes RESUMING, takes the whole stream and ends
 * RUNNING. on_dirty (optional) gets each dirty report of src, for each range,
 * at 4 KiB pages, to copy those pages into dst's memory (before dst runs: the
 * last report comes with src stopped). chunk: bytes per MIG_DATA message (0: 64
 * KiB; capped at both servers' max_data_xfer_size). On failure src is asked
 * back to RUNNING. */
typedef int (*vdev_vfuc_dirty_cb)(void *opaque, uint64_t iova, uint64_t len,
                                  uint64_t page_size, const uint8_t *bitmap);
struct vdev_vfuc_migration {
    const struct vfio_device_feature_dma_logging_range *ranges;
    uint32_t nranges;
    uint32_t chunk;
    vdev_vfuc_dirty_cb on_dirty;
    void *opaque;
    bool logging_started;          /* the caller started logging on src over
                                    * ranges already (before its first pass
                                    * over memory): reported and stopped here */
    uint64_t data_bytes;           /* out: device state bytes moved */
    bool used_pre_copy;            /* out */
};
VDEV_API int  vdev_vfuc_migrate(struct vdev_vfuc *src, struct vdev_vfuc *dst,
                                struct vdev_vfuc_migration *m);

/* Any command as given, for tests of a server: payload and fds sent as they
 * are, with flags (VFIO-user header flags, e.g. No_reply). Unless No_reply is
 * set the reply is checked only for its type, id and command; its payload goes
 * to reply (up to reply_cap bytes; *reply_size the payload size) and its fds are
 * closed. Returns 0 or the server's -errno as above. */
VDEV_API int  vdev_vfuc_request(struct vdev_vfuc *c, uint16_t command, uint32_t flags,
                                const void *payload, uint32_t size, const int *fds,
                                size_t nfds, void *reply, uint32_t reply_cap,
                                uint32_t *reply_size);

/* The connected socket, for tests that write raw bytes; -1 when closed. */
VDEV_API int  vdev_vfuc_socket(const struct vdev_vfuc *c);

#ifdef __cplusplus
}
#endif

#endif
