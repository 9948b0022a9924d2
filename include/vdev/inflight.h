/* inflight.h — vhost-user's inflight I/O records (vhost-user.rst, "Inflight I/O
 * tracking"; VHOST_USER_GET_INFLIGHT_FD, VHOST_USER_SET_INFLIGHT_FD, protocol
 * feature VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD).
 *
 * The backend records, in memory it shares with the frontend, which requests it
 * has fetched from a ring and not yet completed, so that a backend restarted after
 * a crash resubmits them, in the order they were first fetched. The frontend keeps
 * the memory while the backend is gone and hands it back with SET_INFLIGHT_FD:
 * everything in it is then untrusted, and attach + resume check it all.
 *
 * Layout. The area holds one queue region per virtqueue, queue i at
 * i * vdev_inflight_region_stride(): a region is the spec's header and queue_size
 * descriptor states, rounded up to VDEV_INFLIGHT_ALIGN (64) bytes. The backend
 * picks this layout and reports its size as mmap_size in GET_INFLIGHT_FD; the
 * memory it hands out there is all zeroes, which the spec calls an uninitialized
 * region (version 0).
 *
 * One queue's life:
 *   init or attach    the memory of SET_INFLIGHT_FD; attach checks what is in it
 *   resume            when the ring starts: repairs an update a crash cut short,
 *                     or formats a region that is still version 0
 *   list              what is still in flight, oldest first: resubmit it
 *   fetch             for each request popped from the ring
 *   complete..commit  for each batch of requests returned to the ring
 * After attach the records in the shared region are only written, never read
 * back: they are kept in private memory too, so a frontend that changes the
 * region under a running backend changes what a later restart finds (and is
 * checked then), not what this one does. The one exception is the descriptor
 * values vdev_inflight_packed_desc() returns, which are the guest's anyway.
 *
 * Threads: one queue's calls are made by one thread at a time (the queue's
 * worker); queues are independent, also when they share an area. */
#ifndef VDEV_INFLIGHT_H
#define VDEV_INFLIGHT_H

#include <linux/virtio_ring.h>
#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_INFLIGHT_VERSION        1u
#define VDEV_INFLIGHT_ALIGN          64u      /* each queue region starts here */
#define VDEV_INFLIGHT_MAX_QUEUE_SIZE 32768u

/* The spec's records, field for field (native byte order). The spec gives them
 * as plain C structs, so the packed header's desc[] starts at offset 32, after
 * the 3 bytes a compiler adds to padding[7] to align it; inflight.c asserts
 * every offset. */
struct vdev_inflight_desc_split {         /* DescStateSplit, 16 bytes */
    uint8_t  inflight;                    /* head is in flight */
    uint8_t  padding[5];
    uint16_t next;                        /* list of the last batch of used heads */
    uint64_t counter;                     /* fetch order */
};

struct vdev_inflight_region_split {       /* QueueRegionSplit, 16 + 16 * n bytes */
    uint64_t features;                    /* 0 */
    uint16_t version;                     /* 1; 0 = uninitialized */
    uint16_t desc_num;                    /* the queue size */
    uint16_t last_batch_head;
    uint16_t used_idx;                    /* used->idx once the last batch is done */
    struct vdev_inflight_desc_split desc[];
};

struct vdev_inflight_desc_packed {        /* DescStatePacked, 32 bytes */
    uint8_t  inflight;                    /* head entry: buffer is in flight */
    uint8_t  padding;
    uint16_t next;                        /* next free entry; desc_num ends the list */
    uint16_t last;                        /* head entry: the chain's last entry */
    uint16_t num;                         /* head entry: descriptors in the chain */
    uint64_t counter;                     /* head entry: fetch order */
    uint16_t id;                          /* the ring descriptor, as fetched */
    uint16_t flags;
    uint32_t len;
    uint64_t addr;
};

struct vdev_inflight_region_packed {      /* QueueRegionPacked, 32 + 32 * n bytes */
    uint64_t features;                    /* 0 */
    uint16_t version;                     /* 1; 0 = uninitialized */
    uint16_t desc_num;                    /* the queue size */
    uint16_t free_head;
    uint16_t old_free_head;
    uint16_t used_idx;                    /* ring position of the next used desc */
    uint16_t old_used_idx;
    uint8_t  used_wrap_counter;
    uint8_t  old_used_wrap_counter;
    uint8_t  padding[7];
    struct vdev_inflight_desc_packed desc[];
};

/* What GET_INFLIGHT_FD / SET_INFLIGHT_FD describe, plus the ring layout. */
struct vdev_inflight_layout {
    uint16_t num_queues;                  /* 1.. */
    uint16_t queue_size;                  /* 1..32768, every queue's ring size */
    bool packed;                          /* VIRTIO_F_RING_PACKED */
};

/* Bytes of one queue region (header + queue_size states), and the distance
 * between two regions (that, rounded up to VDEV_INFLIGHT_ALIGN). 0 for a queue
 * size out of range. */
VDEV_API uint64_t vdev_inflight_region_size(uint16_t queue_size, bool packed);
VDEV_API uint64_t vdev_inflight_region_stride(uint16_t queue_size, bool packed);

/* mmap_size for GET_INFLIGHT_FD: num_queues strides. -EINVAL for no queue or a
 * queue size out of range. */
VDEV_API int vdev_inflight_mmap_size(const struct vdev_inflight_layout *l,
                                     uint64_t *size);

/* One queue's records. */
struct vdev_inflight;

/* Both take the area [base, base + mmap_size) as mapped from SET_INFLIGHT_FD
 * (the caller maps it, checks that the file is that long, and keeps it mapped
 * until vdev_inflight_free()), the layout it was sent with, and the queue index.
 *
 * init starts the region over: zeroes it (version 0, uninitialized).
 * attach takes it as it is: a version 0 region is zeroed as by init; a version 1
 * region is checked and its records taken, to be repaired by resume.
 *
 * Returns 0, -ENOMEM, or -EINVAL (logged with the reason):
 *   the layout: no queue, queue size out of range, index past num_queues
 *   the area: base not 8-byte aligned, mmap_size below num_queues strides
 * and for attach, in the region:
 *   version other than 0 and 1, desc_num not queue_size, features not 0;
 *   split: last_batch_head or a next past the ring, an inflight not 0 or 1;
 *   packed: free_head or old_free_head past desc_num, used_idx or old_used_idx
 *   past the ring, a wrap counter not 0 or 1, an inflight not 0 or 1, a next past
 *   desc_num, a last past the ring, a num above desc_num.
 * The ring's own size must be l->queue_size: the caller checks that. */
VDEV_API int  vdev_inflight_init(struct vdev_inflight **out, void *base,
                                 uint64_t mmap_size,
                                 const struct vdev_inflight_layout *l, uint16_t index);
VDEV_API int  vdev_inflight_attach(struct vdev_inflight **out, void *base,
                                   uint64_t mmap_size,
                                   const struct vdev_inflight_layout *l,
                                   uint16_t index);
/* Frees the private records; the region is left as it is. NULL is a no-op. */
VDEV_API void vdev_inflight_free(struct vdev_inflight *q);

/* In flight, for resubmission. */
struct vdev_inflight_req {
    uint64_t counter;                     /* fetch order */
    uint16_t id;                          /* split: head index; packed: buffer id */
    uint16_t num;                         /* packed: descriptors; split: 0 */
};

/* Requests in flight (0..queue_size), or -EAGAIN before resume. */
VDEV_API int  vdev_inflight_count(const struct vdev_inflight *q);

/* Fills out[] with the requests in flight, lowest counter first. Returns their
 * number, -ENOBUFS if max is too small (nothing written), -EAGAIN before resume. */
VDEV_API int  vdev_inflight_list(const struct vdev_inflight *q,
                                 struct vdev_inflight_req *out, uint32_t max);

/* --- split rings ----------------------------------------------------------
 *
 * The virtqueue calls, in this order:
 *   resume(used->idx)              once the ring is mapped, before anything else;
 *                                  again after each restart of the ring
 *   fetch(head)                    for each head popped from the available ring
 *   complete(head) ...             for each head put in the used ring, then one
 *                                  store of used->idx for the whole batch, then
 *   commit(used->idx)              the value just stored
 * Fetching between complete and commit is allowed.
 *
 * After resume, the next available ring entry to fetch is used->idx plus
 * vdev_inflight_count(): every head fetched is either used or in flight. */

/* Repairs the batch a crash may have cut short (the spec's "When reconnecting"):
 * if used_idx (the value the guest sees in used->idx) is ahead of the region's
 * used_idx, the difference is the size of the last batch, whose heads, from
 * last_batch_head along next, are no longer in flight. A version 0 region is
 * formatted instead, starting at used_idx. Returns 0, or
 *   -EINVAL  not a split queue; the batch is longer than the ring, or its list
 *            meets a head twice; two heads in flight with the same counter
 *   -EBUSY   a batch is open (complete without commit)
 *   -ENOMEM */
VDEV_API int  vdev_inflight_split_resume(struct vdev_inflight *q, uint16_t used_idx);

/* Records head as in flight, with the queue's next counter. 0, or -EAGAIN (not
 * resumed), -EINVAL (not split, head past the ring), -EEXIST (already in flight:
 * the driver made a head available twice). */
VDEV_API int  vdev_inflight_split_fetch(struct vdev_inflight *q, uint16_t head);

/* Adds head to the batch being returned. 0, or -EAGAIN, -EINVAL (not split, head
 * past the ring), -ENOENT (not in flight, or already in this batch). */
VDEV_API int  vdev_inflight_split_complete(struct vdev_inflight *q, uint16_t head);

/* Ends the batch once used->idx is stored: its heads are no longer in flight.
 * used_idx must be the region's used_idx advanced by the batch's size, else
 * -EINVAL and nothing changes; -EAGAIN before resume. */
VDEV_API int  vdev_inflight_split_commit(struct vdev_inflight *q, uint16_t used_idx);

/* --- packed rings ---------------------------------------------------------
 *
 * Positions in the ring are 0..queue_size-1 and a wrap counter. The virtqueue
 * calls, in this order:
 *   recover_slot, resume           once the ring is mapped, before anything else;
 *                                  again after each restart of the ring
 *   fetch(descriptors)             for each buffer popped from the ring
 *   complete(id) ...               for each buffer whose used descriptor is
 *                                  written, then
 *   used(position)                 the used position after the batch, then the
 *                                  batch is made visible by storing the flags of
 *                                  its first used descriptor last, then
 *   commit()
 * No fetch while a batch is open (complete without commit). */

/* Whether resume needs to know what the ring holds at a position: returns 1 and
 * *slot if the region shows a completion in progress (used_idx and wrap counter
 * not those of old_*), so the caller must read the flags of ring descriptor
 * *slot; 0 if not; -EINVAL if not packed. */
VDEV_API int  vdev_inflight_packed_recover_slot(const struct vdev_inflight *q,
                                                uint16_t *slot);

/* The spec's "When reconnecting", packed. slot_flags are the flags of the ring
 * descriptor at the slot vdev_inflight_packed_recover_slot() named (ignored if it
 * returned 0): still marked available for old_used_wrap_counter means the batch
 * in progress was not made visible and is rolled back; anything else means it was
 * and is committed. *used_idx and *used_wrap are in and out: on a version 0
 * region they say where the ring's used side starts and the region is formatted
 * there; otherwise they return where the used side resumes. Returns 0, or
 *   -EINVAL  not packed; *used_idx past the ring; after recovery, the free list
 *            runs in a loop, a buffer in flight has no descriptor, a chain leaves
 *            the ring, loops, overlaps another or the free list, or does not end
 *            at its last entry, entries belong to nothing, two buffers in flight
 *            share a buffer id (or it is past the ring) or a counter
 *   -EBUSY   a batch is open
 *   -ENOMEM */
VDEV_API int  vdev_inflight_packed_resume(struct vdev_inflight *q, uint16_t slot_flags,
                                          uint16_t *used_idx, bool *used_wrap);

/* After resume: where the next buffer to fetch starts, that is the used
 * position advanced by every descriptor in flight. -EAGAIN, -EINVAL (not packed). */
VDEV_API int  vdev_inflight_packed_avail(const struct vdev_inflight *q,
                                         uint16_t *avail_idx, bool *avail_wrap);

/* Records a buffer of n ring descriptors d[0..n) (their values, as read from the
 * ring, little-endian); its buffer id is that of d[n - 1]. 0, or -EAGAIN (not
 * resumed), -EINVAL (not packed, n is 0, the id past the ring), -EBUSY (a batch
 * is open), -ENOSPC (more descriptors than the free entries: more in flight than
 * the ring holds), -EEXIST (a buffer with that id is in flight). */
VDEV_API int  vdev_inflight_packed_fetch(struct vdev_inflight *q,
                                         const struct vring_packed_desc *d, uint16_t n);

/* Adds the buffer with this id to the batch being returned. 0, or -EAGAIN,
 * -EINVAL (not packed, id past the ring), -ENOENT (not in flight, or already in
 * this batch). */
VDEV_API int  vdev_inflight_packed_complete(struct vdev_inflight *q, uint16_t id);

/* Records the used position after the batch, before the batch is made visible.
 * It must be the current one advanced by the batch's descriptors, else -EINVAL
 * and nothing changes; -EAGAIN before resume. */
VDEV_API int  vdev_inflight_packed_used(struct vdev_inflight *q, uint16_t used_idx,
                                        bool used_wrap);

/* Ends the batch once it is visible. 0, or -EAGAIN, -EINVAL (not packed, or the
 * batch is not empty and vdev_inflight_packed_used() was not called). */
VDEV_API int  vdev_inflight_packed_commit(struct vdev_inflight *q);

/* Descriptor i (0..num-1) of the buffer in flight with this id, as recorded at
 * fetch (little-endian, as in the ring): what a restarted backend resubmits, the
 * ring's copy being possibly overwritten. The values are the guest's: check them
 * as if read from the ring. 0, or -EAGAIN, -EINVAL (not packed), -ENOENT (id not
 * in flight, i past its descriptors). */
VDEV_API int  vdev_inflight_packed_desc(const struct vdev_inflight *q, uint16_t id,
                                        uint16_t i, struct vring_packed_desc *d);

#ifdef __cplusplus
}
#endif

#endif
