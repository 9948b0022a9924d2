/* virtio_blk_internal.h — what the virtio-blk files share: the device, its
 * queues, the io_uring context its queues share per worker, and a request. */
#ifndef VDEV_VIRTIO_BLK_INTERNAL_H
#define VDEV_VIRTIO_BLK_INTERNAL_H

#include <linux/virtio_blk.h>
#include <pthread.h>
#include <stdatomic.h>

#include "vdev/block.h"
#include "vdev/dev_virtio_blk.h"
#include "vdev/virtio_dev.h"
#include "vdev/virtq.h"

#define VBLK_DEFAULT_QUEUE_SIZE 256u
#define VBLK_DEFAULT_SEG_MAX    126u
#define VBLK_DEFAULT_SIZE_MAX   (1u << 20)
#define VBLK_MIN_SIZE_MAX       4096u
#define VBLK_MAX_SLOTS          128u    /* requests in flight per queue */
#define VBLK_DWZ_MAX_SEG        32u     /* ranges per discard or write-zeroes */
#define VBLK_DWZ_MAX_SECTORS    (1u << 22)  /* 2 GiB per range */
#define VBLK_IOV_EXTRA          4u      /* header and status iovecs, split or not */
#define VBLK_SPILL_MAX          65536u  /* iovecs tried for a request that is too big */
#define VBLK_CTX_ENTRIES        256u
#define VBLK_SECTOR             512u

struct vblk_dev;
struct vblk_queue;

/* One request slot of a queue; its iovec arrays are the slot's for good. */
struct vblk_req {
    struct vblk_queue *q;
    struct vdev_vq_req vq;
    uint32_t type;
    uint8_t *status;            /* the last writable byte, or NULL: none */
    uint64_t status_gpa;
    uint32_t status_iov;        /* the iovec the status was cut from ... */
    size_t status_iov_len;      /* ... and its length before the cut */
    struct iovec *data;         /* the data: iovecs inside vq.iov */
    unsigned ndata;
    uint64_t data_len;
    uint64_t sector;
    uint32_t used;              /* used length on success, status included */
    unsigned pending;           /* block requests not yet called back */
    int result;                 /* the first error of those */
    unsigned nsegs;
    struct virtio_blk_discard_write_zeroes segs[VBLK_DWZ_MAX_SEG];
    struct vblk_req *next_free;
};

/* The io_uring the device's queues on one worker share. */
struct vblk_worker {
    struct vblk_dev *d;
    struct vdev_loop *loop;
    struct vdev_blk_ctx *ctx;
    struct vdev_watch *watch;
    struct vblk_queue *queues;  /* on this worker: its thread only */
    unsigned refs;
    struct vblk_worker *next;   /* the device's list, under d->lock */
};

struct vblk_queue {
    struct vblk_dev *d;
    struct vdev_virtio_queue *vq;
    struct vblk_worker *w;
    struct vblk_req *slots;
    struct vblk_req *free;
    unsigned nslots;
    unsigned inflight;
    uint32_t iov_cap;           /* per slot */
    bool notify;                /* pushed since the last notify */
    bool stalled;               /* stopped popping for want of a slot */
    bool stopping;
    bool stuck;                 /* a request no iovec array holds: not served */
    bool dead;                  /* abandoned with requests the kernel still has */
    struct vblk_queue *next;    /* the worker's list */
};

struct vblk_dev {
    struct vdev_virtio_dev dev;
    struct vdev_virtio_ops ops;
    struct vdev_blk *blk;
    bool own_blk;
    struct vdev_blk_info info;
    uint64_t capacity;          /* 512-byte sectors */
    uint16_t num_queues;
    uint32_t seg_max, size_max;
    char serial[VIRTIO_BLK_ID_BYTES];
    bool read_only;
    bool writethrough;          /* the cache mode after reset */
    uint64_t offered;
    uint64_t features;          /* negotiated */
    _Atomic uint8_t wce;        /* the config byte: the driver may write it while
                                 * workers read it */
    pthread_mutex_t lock;       /* workers and queues[]: start and stop only */
    struct vblk_worker *workers;
    struct vblk_queue **queues;
};

static inline uint8_t vblk_wce(const struct vblk_dev *d)
{
    return atomic_load_explicit(&d->wce, memory_order_relaxed);
}

static inline void vblk_set_wce(struct vblk_dev *d, uint8_t v)
{
    atomic_store_explicit(&d->wce, v, memory_order_relaxed);
}

static inline bool vblk_has(const struct vblk_dev *d, unsigned bit)
{
    return (d->features >> bit) & 1;
}

/* virtio_blk_req.c */
/* A popped request: framed, checked, then completed at once or handed to the
 * block layer. */
void vblk_req_handle(struct vblk_req *r);
/* Writes the status, pushes, and frees the slot. */
void vblk_req_complete(struct vblk_req *r, uint8_t status);
/* Whether writes must be durable when they complete (5.2.6.2). */
bool vblk_writethrough(const struct vblk_dev *d);

/* virtio_blk_queue.c */
int  vblk_queue_start(void *dev, struct vdev_virtio_queue *q);
void vblk_queue_kick(void *dev, struct vdev_virtio_queue *q);
int  vblk_queue_poll(void *dev, struct vdev_virtio_queue *q);
void vblk_queue_stop(void *dev, struct vdev_virtio_queue *q);

#endif
