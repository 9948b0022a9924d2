/* virtq.h — a virtqueue, device side: split and packed rings (virtio 1.2, 2.7
 * and 2.8), indirect descriptors, event index.
 *
 * A queue is given its ring addresses, a memory map and a call eventfd. It hands
 * the device each request as iovecs, readable ones first, and takes it back with
 * the number of bytes written. Everything in the rings is the guest's and is
 * untrusted: every field is read once into a private copy and checked there.
 *
 * A ring the guest has broken (a loop, an index out of range, a buffer outside
 * memory, ...) marks the queue broken: vdev_vq_pop() returns the error and keeps
 * returning it until the queue is stopped; the transport sets NEEDS_RESET. Other
 * queues, on the same memory or not, are unaffected.
 *
 * The usual worker loop:
 *
 *     while ((ret = vdev_vq_pop(vq, &req)) == 1)
 *         ... do the request, later vdev_vq_push(vq, &req, written) ...
 *     vdev_vq_notify(vq);            // publishes the batch, signals at most once
 *
 * In interrupt mode the worker then sleeps on the kick eventfd: a pop that finds
 * the ring empty has already asked the driver for a kick. A polling worker calls
 * vdev_vq_set_notification(vq, false) while it polls, and before it sleeps again
 * vdev_vq_set_notification(vq, true), which says whether buffers arrived in the
 * meantime (then it polls on).
 *
 * Threads: a queue belongs to one thread at a time; queues are independent. The
 * memory map must not change while a queue is started: stop it, change the map,
 * start it again (the ring addresses are translated once, at start). */
#ifndef VDEV_VIRTQ_H
#define VDEV_VIRTQ_H

#include <sys/uio.h>
#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_inflight;
struct vdev_mem;
struct vdev_vq;

#define VDEV_VQ_MAX_SIZE 32768u

struct vdev_vq_config {
    uint16_t size;          /* entries: split a power of two, 1..32768; packed 1..32768 */
    bool packed;            /* VIRTIO_F_RING_PACKED */
    bool event_idx;         /* VIRTIO_RING_F_EVENT_IDX */
    bool indirect;          /* VIRTIO_RING_F_INDIRECT_DESC */
    uint64_t desc_gpa;      /* descriptor table / ring */
    uint64_t driver_gpa;    /* split: available ring; packed: driver event suppression */
    uint64_t device_gpa;    /* split: used ring; packed: device event suppression */
    uint64_t used_log_gpa;  /* where writes to the device area are recorded in the
                             * dirty log, when log_used (vhost-user log_guest_addr) */
    bool log_used;          /* otherwise they are recorded at device_gpa */
    struct vdev_mem *mem;   /* borrowed; must outlive the started queue */
    int call_fd;            /* eventfd for used buffer notifications, or -1 */
    /* Or a function that delivers them (call_fd is then ignored): for a
     * transport whose interrupt is more than an eventfd write, such as
     * virtio-pci's MSI-X vector with its mask and pending bit. Called on the
     * queue's thread. */
    void (*notify)(void *opaque);
    void *notify_opaque;
    uint32_t base;          /* SET_VRING_BASE, as vhost-user carries it. Split: the
                             * next available ring index (bits 0-15; bits 16-31
                             * reserved, 0). Packed: bits 0-14 the next available
                             * descriptor, bit 15 the driver's wrap counter, bits
                             * 16-30 where the next used descriptor goes, bit 31
                             * the device's wrap counter (vhost-user.rst, "Vring
                             * descriptor indices for packed virtqueues"; a fresh
                             * packed ring: 0x80008000, both wrap counters 1) */
    struct vdev_inflight *inflight; /* borrowed, or NULL: the queue's inflight
                             * records (inflight.h), attached by the transport to
                             * this queue's region with the ring's size and
                             * layout; must outlive the started queue */
    /* Behind an IOMMU (vhost-user's IOTLB, an alias map in mem.h): a buffer or
     * indirect table the map does not hold is a miss the transport can fill,
     * not the driver's fault. The pop that meets it returns -EAGAIN with nothing
     * consumed and the ring not broken, and miss() is called on the queue's
     * thread with the first address not mapped and the access the device needs
     * there: once per start (the transport starts the queue again when the map
     * has changed, and the retried pop reports the next miss). NULL: an address
     * outside the map breaks the ring (-EFAULT). */
    void (*miss)(void *opaque, uint64_t addr, uint32_t access);
    void *miss_opaque;
    /* Called once, on the queue's thread, when the driver breaks the ring
     * (vdev_vq_broken() turns true), with the error: a transport tells the
     * driver at once (vhost-user's error eventfd, NEEDS_RESET) rather than at
     * the next stop. NULL: nobody is told until the transport looks. */
    void (*broken)(void *opaque, int err);
    void *broken_opaque;
};

/* One request. The caller provides the arrays once (no allocation per request);
 * vdev_vq_pop() fills the rest. iov[0 .. n_out) are device-readable,
 * iov[n_out .. n_out + n_in) device-writable; iov_gpa[i] is the guest address of
 * iov[i], which vdev_vq_push() needs to record written pages in the dirty log.
 * Zero-length descriptors take no iovec. */
struct vdev_vq_req {
    struct iovec *iov;      /* caller: iov_cap entries */
    uint64_t *iov_gpa;      /* caller: iov_cap entries */
    uint32_t iov_cap;       /* caller */
    uint16_t id;            /* split: head index; packed: buffer id */
    uint16_t ndesc;         /* ring descriptors the request took (packed: how far
                             * its used descriptor advances the ring) */
    uint32_t n_out, n_in;   /* readable, then writable iovecs */
    uint32_t out_len;       /* readable bytes */
    uint32_t in_len;        /* writable bytes */
};

/* Bytes each ring area takes for a queue of size entries, with the event index
 * fields included (split: 16 * size, 6 + 2 * size, 6 + 8 * size; packed:
 * 16 * size, 4, 4). Their alignment is 16, 2, 4 (split) and 16, 4, 4 (packed). */
VDEV_API uint64_t vdev_vq_desc_bytes(uint16_t size, bool packed);
VDEV_API uint64_t vdev_vq_driver_bytes(uint16_t size, bool packed);
VDEV_API uint64_t vdev_vq_device_bytes(uint16_t size, bool packed);

VDEV_API int  vdev_vq_new(struct vdev_vq **out);   /* 0 or -ENOMEM; stopped */
VDEV_API void vdev_vq_free(struct vdev_vq *vq);

/* Starts the queue on the rings c describes. Returns 0, or:
 *   -EBUSY    already started; with inflight, the records have a completion
 *             batch open (a flush cut short: attach the region again)
 *   -EINVAL   size out of range (or not a power of two, split), a ring area not
 *             aligned, no mem; a base that is not one: split, bits 16-31 set;
 *             packed, a position past the ring, or the available side behind the
 *             used side or more than a ring ahead of it; with inflight, records
 *             that resume refuses (inflight.h) or that do not fit the ring (a
 *             head or buffer id past it, a buffer of no descriptors, more
 *             descriptors in flight than it holds)
 *   -EFAULT   a ring area is not mapped in one piece with the access the device
 *             needs (split: descriptors and available ring readable, used ring
 *             writable; packed: descriptor ring read-write, driver area readable,
 *             device area writable)
 *   -ENOMEM   with inflight
 * Without inflight records: split takes the next available index from the base
 * and the used index from the used ring (the guest's memory, which survives a
 * backend restart); packed takes both positions from the base.
 *
 * With inflight records, the records win and the base is only checked: start
 * runs the records' resume step (split: with used->idx; packed: with the flags
 * of the ring descriptor the records name, and the base's used position for a
 * region still uninitialized), then
 *   split   the next available index is used->idx + the requests in flight
 *           (every head fetched was either used or is in flight); a base outside
 *           [used->idx, used->idx + in flight] is logged. QEMU sends used->idx
 *           after a backend crash, GET_VRING_BASE's value after a clean stop.
 *   packed  the used side resumes where the records say, the available side as
 *           many descriptors further as are in flight; a base that says other
 *           is logged (QEMU has no fresher value than the last GET_VRING_BASE).
 * A region still uninitialized (version 0) holds nothing in flight: it is
 * formatted at the ring's used side (packed: the base's), and the available
 * side starts there too, so what a backend took before the records existed and
 * never returned is taken again rather than lost.
 * The requests in flight then come back from vdev_vq_pop() first, oldest fetch
 * first, before any new buffer: split re-walks each head in the descriptor
 * table, packed walks the descriptors as recorded, both checked like any chain.
 * Guest kicks are enabled. */
VDEV_API int  vdev_vq_start(struct vdev_vq *vq, const struct vdev_vq_config *c);

/* Publishes what was pushed and stops. Requests popped and not pushed are
 * forgotten, unless the queue has inflight records: they stay in flight there,
 * and the next start on the records hands them out again (so a device finishes
 * or abandons what it holds before the queue restarts). A broken queue publishes
 * nothing: what was pushed stays in flight in the records. Idempotent. */
VDEV_API void vdev_vq_stop(struct vdev_vq *vq);
VDEV_API bool vdev_vq_started(const struct vdev_vq *vq);

/* The next request. Returns 1 (r filled), 0 (ring empty), or a negative errno:
 *   -ENOBUFS  the request needs more than r->iov_cap iovecs; nothing is consumed
 *             and the queue is not broken: retry with more, or give up on it
 *   -EINVAL   r has no arrays, or the queue is not started
 *   -EAGAIN   with a miss callback: a buffer or indirect table not in the map
 *             (a miss, reported to the callback); nothing is consumed and the
 *             queue is not broken
 * and, once the ring is broken, the error that broke it, from then on:
 *   -ERANGE   the available index ran more than size ahead, more requests
 *             outstanding than the ring holds, a head, next or buffer id past
 *             the ring or the table
 *   -ELOOP    a chain longer than the ring, or an indirect chain longer than its
 *             table (a loop)
 *   -EINVAL   a forbidden descriptor: indirect without the feature, indirect with
 *             NEXT, indirect inside an indirect table, or behind a chain (packed),
 *             a table length that is 0, not a multiple of 16 or more than size
 *             entries, a readable descriptor after a writable one, a packed chain
 *             running into a descriptor that is not available
 *   -EOVERFLOW the chain's lengths add up to more than 2^32 - 1 bytes
 *   -EFAULT   a buffer or table outside guest memory
 *   -EACCES   a writable buffer in memory the device may only read (or the other
 *             way round)
 *   -EEXIST   with inflight records: a head (split) or buffer id (packed) that
 *             is already in flight
 * and with inflight records, the error of a request handed out again (its chain
 * is checked as above; packed also -EINVAL for NEXT flags that do not match the
 * recorded length), or the records' own error when they refuse a fetch or a
 * completion. */
VDEV_API int  vdev_vq_pop(struct vdev_vq *vq, struct vdev_vq_req *r);

/* Returns r to the driver with written bytes (clamped to r->in_len) in its
 * used element. The element is not visible to the driver before vdev_vq_flush()
 * or vdev_vq_notify(). Records in the dirty log the first written bytes of the
 * writable buffers and the ring entry. 0, or -EINVAL (r is not a request of this
 * queue, or none is outstanding), or the error of a broken queue. */
VDEV_API int  vdev_vq_push(struct vdev_vq *vq, const struct vdev_vq_req *r,
                           uint32_t written);

/* Makes every pushed element visible to the driver (one store of the used index,
 * or of the first used descriptor's flags). With inflight records this is the
 * commit point: the batch is recorded complete before that store and committed
 * after it, in the order vhost-user.rst gives, so a crash at any point leaves
 * records that resume repairs. */
VDEV_API void vdev_vq_flush(struct vdev_vq *vq);

/* Flushes, and says whether the driver asked to be notified of what was used
 * since the last call (VRING_AVAIL_F_NO_INTERRUPT, used_event, or the packed
 * driver event suppression). A true answer is the caller's to deliver: it is not
 * given again for the same elements. */
VDEV_API bool vdev_vq_should_notify(struct vdev_vq *vq);

/* vdev_vq_should_notify(), and when true a write to call_fd. Returns 1 (signalled,
 * or wanted but call_fd is -1), 0 (not wanted), or -errno of the write. A full
 * eventfd counts as signalled. */
VDEV_API int  vdev_vq_notify(struct vdev_vq *vq);

/* Asks the driver for kicks (enable) or tells it they are not needed (a hint the
 * driver may ignore). Enabling returns whether buffers are already available, so
 * a worker about to sleep polls on instead of missing them. */
VDEV_API bool vdev_vq_set_notification(struct vdev_vq *vq, bool enable);

/* For GET_VRING_BASE, in the layout of vdev_vq_config.base: split, the next
 * available index; packed, the next available descriptor and the driver's wrap
 * counter in bits 0-15, the next used descriptor and the device's wrap counter
 * in bits 16-31. Meant for a stopped queue (stop publishes what was pushed). */
VDEV_API uint32_t vdev_vq_get_base(const struct vdev_vq *vq);

VDEV_API bool vdev_vq_broken(const struct vdev_vq *vq);
/* The negative errno that broke the queue, or 0. */
VDEV_API int  vdev_vq_error(const struct vdev_vq *vq);

#ifdef __cplusplus
}
#endif

#endif
