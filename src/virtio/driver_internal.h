/* driver_internal.h — the layout behind struct vdev_vqd (driver side), shared by
 * driver.c, driver_split.c and driver_packed.c. Guest memory is reached with the
 * helpers of vq_internal.h. */
#ifndef VDEV_DRIVER_INTERNAL_H
#define VDEV_DRIVER_INTERNAL_H

#include "vdev/virtq_driver.h"
#include "vq_internal.h"

/* What the driver remembers of a request, kept out of the shared ring. */
struct vqd_state {
    bool in_use;
    uint16_t ndesc;          /* split: descriptors of the chain; packed: ring slots */
    uint16_t last;           /* split: the chain's last descriptor */
};

struct vqd_split {
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint16_t *next;          /* our copy of the free list links */
    uint16_t free_head;
    uint16_t avail_idx;      /* next available entry (published at kick_prepare) */
    uint16_t kicked_idx;     /* avail index at the last kick decision */
    uint16_t last_used;
};

struct vqd_packed {
    struct vring_packed_desc *desc;
    struct vring_packed_desc_event *driver;   /* written: used buffer notif. */
    struct vring_packed_desc_event *device;   /* read: kicks */
    uint16_t *free_ids;      /* a stack of free buffer ids */
    uint16_t n_free_ids;
    uint16_t avail_pos;
    bool avail_wrap;
    uint16_t used_pos;
    bool used_wrap;
    uint32_t since_kick;     /* slots made available since the last decision */
};

struct vdev_vqd {
    struct vdev_vqd_config c;
    uint8_t *indirect_host;  /* the indirect area, or NULL */
    bool intr_on;            /* used buffer notifications asked for */
    struct vqd_state *state; /* by head (split) or buffer id (packed) */
    uint32_t num_free;       /* descriptors (split) or ring slots (packed) */
    union {
        struct vqd_split s;
        struct vqd_packed p;
    };
};

/* The indirect table for slot (a head or a buffer id): host address and gpa. */
static inline void *vqd_indirect_table(struct vdev_vqd *d, uint16_t slot, uint64_t *gpa)
{
    uint64_t off = (uint64_t)slot * d->c.indirect_max * sizeof(struct vring_desc);

    *gpa = d->c.indirect_gpa + off;
    return d->indirect_host + off;
}

int  vqd_split_init(struct vdev_vqd *d);
int  vqd_split_add(struct vdev_vqd *d, const struct vdev_vqd_buf *out, unsigned n_out,
                   const struct vdev_vqd_buf *in, unsigned n_in, bool indirect,
                   uint16_t *id);
bool vqd_split_kick_prepare(struct vdev_vqd *d);
int  vqd_split_get_used(struct vdev_vqd *d, uint16_t *id, uint32_t *len);
bool vqd_split_set_interrupts(struct vdev_vqd *d, bool enable);

int  vqd_packed_init(struct vdev_vqd *d);
int  vqd_packed_add(struct vdev_vqd *d, const struct vdev_vqd_buf *out, unsigned n_out,
                    const struct vdev_vqd_buf *in, unsigned n_in, bool indirect,
                    uint16_t *id);
bool vqd_packed_kick_prepare(struct vdev_vqd *d);
int  vqd_packed_get_used(struct vdev_vqd *d, uint16_t *id, uint32_t *len);
bool vqd_packed_set_interrupts(struct vdev_vqd *d, bool enable);

/* The i-th buffer of a request: out[] first, then in[]. */
static inline const struct vdev_vqd_buf *vqd_buf(const struct vdev_vqd_buf *out,
                                                 unsigned n_out,
                                                 const struct vdev_vqd_buf *in,
                                                 unsigned i, bool *writable)
{
    *writable = i >= n_out;
    return i < n_out ? &out[i] : &in[i - n_out];
}

#endif
