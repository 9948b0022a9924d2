/* vq_internal.h — the layout behind struct vdev_vq, shared by virtio/'s files.
 *
 * Guest memory is shared with a guest that may change it at any moment, so every
 * access to a ring goes through the helpers below: atomic loads and stores of
 * the 16- and 32-bit fields, and copies of whole descriptors that the compiler
 * may not replace by a second read (vq_copy()). Values are little-endian
 * (virtio 1.x). */
#ifndef VDEV_VQ_INTERNAL_H
#define VDEV_VQ_INTERNAL_H

#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "vdev/mem.h"
#include "vdev/virtq.h"

/* Split ring (2.7). Indices are free-running 16-bit counters. */
struct vq_split {
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint16_t last_avail;     /* next available ring entry to take */
    uint16_t shadow_avail;   /* avail->idx as last read */
    uint16_t used_idx;       /* next used ring entry to fill */
    uint16_t published;      /* used->idx as last stored */
    uint16_t signalled;      /* used index at the last notification decision */
};

/* Packed ring (2.8). Positions are 0..size-1 plus a wrap counter. */
struct vq_packed {
    struct vring_packed_desc *desc;
    struct vring_packed_desc_event *driver;   /* read: used buffer notifications */
    struct vring_packed_desc_event *device;   /* written: available buffer notif. */
    uint16_t avail_pos;
    bool avail_wrap;
    uint16_t used_pos;
    bool used_wrap;
    /* The batch's first used descriptor keeps its flags until the flush, so the
     * driver sees the batch at once and the rest are plain stores. */
    bool pending;
    uint16_t pending_pos;
    uint16_t pending_flags;
    uint32_t since_signal;   /* ring slots made used since the last decision */
    uint32_t inflight_desc;  /* ring slots popped and not yet used */
};

struct vq_ifl;               /* vq_inflight.c */

struct vdev_vq {
    /* Pop, push and flush leave the fast path: not started, broken, or inflight
     * records. Set with started, error (vq_break() is its only writer) and ifl. */
    bool detour;
    bool started;
    bool packed;
    bool event_idx;
    bool indirect;
    bool kicks_on;           /* the driver was asked for kicks */
    int error;               /* 0, or the negative errno that broke the ring */
    uint16_t size;
    int call_fd;
    void (*notify)(void *opaque);
    void *notify_opaque;
    void (*broken)(void *opaque, int err);
    void *broken_opaque;
    struct vdev_mem *mem;
    uint64_t desc_gpa, driver_gpa, device_gpa;
    uint64_t device_log_gpa; /* where device-area writes go in the dirty log */
    uint32_t inflight;       /* requests popped and not pushed */
    struct vq_ifl *ifl;      /* inflight records, or NULL */
    union {
        struct vq_split s;
        struct vq_packed p;
    };
    /* IOTLB misses (vdev_vq_config.miss), after the hot fields: the range the
     * last walk could not translate, noted where it failed and taken by
     * vq_break(). */
    void (*miss)(void *opaque, uint64_t addr, uint32_t access);
    void *miss_opaque;
    bool miss_reported;      /* once per start */
    uint64_t fault_addr;
    uint32_t fault_len;      /* 0: no miss noted */
    uint32_t fault_access;
};

/* The event index fields at the end of the split rings (2.7.7, 2.7.10). */
static inline void *vq_used_event(struct vring_avail *avail, uint16_t size)
{
    return (uint8_t *)avail + offsetof(struct vring_avail, ring) + 2u * size;
}

static inline void *vq_avail_event(struct vring_used *used, uint16_t size)
{
    return (uint8_t *)used + offsetof(struct vring_used, ring) +
           sizeof(struct vring_used_elem) * size;
}

/* Marks the queue broken with err (negative) and logs it once; returns err. An
 * -EFAULT after vq_note_fault() is a miss instead: reported, and -EAGAIN. */
int vq_break(struct vdev_vq *vq, int err, const char *what);

/* A walk could not translate [addr, addr + len): with a miss callback, the
 * vq_break() that follows reports a miss instead of breaking the ring. */
static inline void vq_note_fault(struct vdev_vq *vq, uint64_t addr, uint32_t len,
                                 uint32_t access)
{
    if (vq->miss) {
        vq->fault_addr = addr;
        vq->fault_len = len;
        vq->fault_access = access;
    }
}

/* Host address of a ring area mapped in one piece with access, or NULL. */
void *vq_map_area(struct vdev_vq *vq, uint64_t gpa, uint64_t bytes, uint32_t access);

/* Records a write to the device area (used ring, device event suppression). */
static inline void vq_log_device_area(struct vdev_vq *vq, uint64_t off, uint64_t len)
{
    vdev_mem_mark_dirty(vq->mem, vq->device_log_gpa + off, len);
}

/* Is a dirty log attached? Writes are recorded only then. */
static inline bool vq_logging(const struct vdev_vq *vq)
{
    return vdev_mem_dirty_log(vq->mem) != NULL;
}

/* --- guest memory access ------------------------------------------------- */

static inline uint16_t vq_load16(const void *p)
{
    return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static inline uint16_t vq_load16_acquire(const void *p)
{
    return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static inline uint32_t vq_load32(const void *p)
{
    return le32toh(__atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED));
}

static inline void vq_store16(void *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static inline void vq_store16_release(void *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

static inline void vq_store32(void *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* A full barrier: our store before it is visible before the guest's value is
 * read after it (the event index and re-enable checks, 2.7.7 and 2.7.10). */
static inline void vq_mb(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Copies n bytes of guest memory once. The signal fence stops the compiler from
 * reading the guest's copy again in place of ours. */
static inline void vq_copy(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Packed event suppression with RING_EVENT_FLAGS_DESC (2.8.10): the other side
 * asked to hear when the descriptor at off_wrap (offset, bit 15 wrap counter)
 * is made available or used. Was it among the n slots just before pos, which
 * is in the lap of wrap counter wrap? */
static inline bool vq_packed_event_passed(uint16_t pos, bool wrap, uint16_t size,
                                          uint16_t off_wrap, uint32_t n)
{
    int64_t back = (int64_t)pos - (off_wrap & 0x7fff);

    if (n >= size)
        return true;               /* a whole lap: every slot was passed */
    if (!!(off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR) != wrap)
        back += size;              /* the event is in the previous lap */
    return back >= 1 && back <= (int64_t)n;
}

/* A packed ring position moved on by n (at most size) slots. */
static inline void vq_packed_advance(uint16_t *pos, bool *wrap, uint32_t n,
                                     uint16_t size)
{
    uint32_t next = (uint32_t)*pos + n;

    if (next >= size) {
        next -= size;
        *wrap = !*wrap;
    }
    *pos = (uint16_t)next;
}

/* The slots from the used side's position to the available side's, which is
 * never behind it and at most a lap ahead (vdev_vq_start() checks the base). */
static inline uint32_t vq_packed_distance(uint16_t used_pos, bool used_wrap,
                                          uint16_t avail_pos, bool avail_wrap,
                                          uint16_t size)
{
    return (uint32_t)avail_pos + (used_wrap != avail_wrap ? size : 0u) - used_pos;
}

/* --- chain.c: descriptor chains ------------------------------------------ */

/* The state of one chain walk: what has been added to the request so far. */
struct vq_walk {
    struct vdev_vq_req *r;
    uint64_t total;          /* bytes of every descriptor so far */
    bool seen_write;
    const char *why;         /* what was wrong, when a step fails */
};

void vq_walk_init(struct vq_walk *w, struct vdev_vq_req *r);

/* Adds one buffer descriptor to the request: order (writable after readable),
 * total length, translation into iovecs with the access the device needs. */
int vq_walk_add(struct vdev_vq *vq, struct vq_walk *w, uint64_t addr, uint32_t len,
                bool writable);

/* An indirect table, checked and located. */
struct vq_table {
    const uint8_t *host;     /* the whole table when it is contiguous, else NULL */
    uint64_t gpa;
    uint32_t n;              /* entries */
};

/* Checks an indirect table's length (not 0, a multiple of 16, at most size
 * entries: -EINVAL) and finds it in memory. */
int vq_table_open(struct vdev_vq *vq, uint64_t gpa, uint32_t len, struct vq_table *t);

/* Copies entry i (< t->n) of the table: 0, -EFAULT or -EACCES. */
int vq_table_read(struct vdev_vq *vq, const struct vq_table *t, uint32_t i, void *out16);

/* Records the first written bytes of r's writable buffers in the dirty log. */
void vq_log_written(struct vdev_vq *vq, const struct vdev_vq_req *r, uint32_t written);

/* --- split.c / packed.c --------------------------------------------------- */

int  vq_split_start(struct vdev_vq *vq, const struct vdev_vq_config *c);
int  vq_split_pop(struct vdev_vq *vq, struct vdev_vq_req *r);
void vq_split_push(struct vdev_vq *vq, const struct vdev_vq_req *r, uint32_t written);
void vq_split_flush(struct vdev_vq *vq);
/* Re-reads avail->idx: >0 if buffers are waiting, 0 if not, <0 if broken. */
int  vq_split_avail(struct vdev_vq *vq);

int  vq_packed_start(struct vdev_vq *vq, const struct vdev_vq_config *c);
int  vq_packed_pop(struct vdev_vq *vq, struct vdev_vq_req *r);
void vq_packed_push(struct vdev_vq *vq, const struct vdev_vq_req *r, uint32_t written);
void vq_packed_flush(struct vdev_vq *vq);
/* Whether the next descriptor is available. */
bool vq_packed_avail(struct vdev_vq *vq);

/* Walks the chain of split head head into w (2.7.5.3); *ndesc is set to the
 * table entries it took. 0, or the error with w->why. */
int  vq_split_walk(struct vdev_vq *vq, struct vq_walk *w, uint16_t head,
                   uint16_t *ndesc);
/* Walks the packed indirect descriptor d, whose flags are flags (2.8.19). */
int  vq_packed_walk_indirect(struct vdev_vq *vq, struct vq_walk *w,
                             const struct vring_packed_desc *d, uint16_t flags);

/* --- vq_inflight.c: inflight records (vhost-user INFLIGHT_FD) --------------
 *
 * Only called when vq->ifl (start: when c->inflight). A request is recorded as
 * fetched before pop hands it out, as complete just before the flush publishes
 * it, and the batch is committed just after; start resumes the records and
 * hands out again what they hold in flight. */

/* After the layout's start: resume, and take the positions and the requests
 * to hand out again from the records. Sets vq->ifl. */
int  vq_inflight_start(struct vdev_vq *vq, const struct vdev_vq_config *c);
void vq_inflight_free(struct vdev_vq *vq);
int  vq_inflight_pop(struct vdev_vq *vq, struct vdev_vq_req *r);
/* Checks r is a request handed out and not pushed; 0 or -EINVAL. */
int  vq_inflight_push(struct vdev_vq *vq, const struct vdev_vq_req *r);
void vq_inflight_flush(struct vdev_vq *vq);

/* --- notify.c ------------------------------------------------------------- */

/* Writes the kick suppression fields for the current state of vq->kicks_on. */
void vq_split_write_kick_state(struct vdev_vq *vq);
void vq_packed_write_kick_state(struct vdev_vq *vq);

#endif
