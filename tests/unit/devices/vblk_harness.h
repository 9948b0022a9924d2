/* vblk_harness.h — a virtio-blk device driven from its rings, with the test
 * playing the transport: guest memory and rings from the virtqueue fixture
 * (../virtio/vq_fixture.h), an image file in a temporary directory, a vdev_loop
 * on the test thread, and queue_start / queue_kick / queue_stop called
 * directly. */
#ifndef VDEV_TEST_VBLK_HARNESS_H
#define VDEV_TEST_VBLK_HARNESS_H

#include <linux/virtio_blk.h>

#include "../virtio/vq_fixture.h"
#include "vdev/block.h"
#include "vdev/dev_virtio_blk.h"
#include "vdev/loop.h"
#include "vdev/virtio_dev.h"

#define VH_IDS 1024u

struct vh_opts {
    uint16_t ring;              /* ring size; 0: 64 */
    bool packed, event_idx, indirect;
    const char *spec;           /* NULL: a file image of image_size bytes */
    struct vdev_blk *blk;       /* or this backend */
    uint64_t image_size;        /* 0: 1 MiB */
    uint16_t num_queues;        /* 0: 1; at most FX_QUEUES are started */
    uint16_t queue_size;
    uint32_t seg_max;
    const char *serial;
    bool read_only, writethrough;
    bool no_start;              /* negotiate, but start no queue */
    uint64_t clear_features;    /* offered features not to negotiate */
};

struct vh {
    struct fx *fx;
    char dir[256], path[512];
    struct vdev_loop *loop;
    struct vdev_virtio_dev *dev;
    const struct vdev_virtio_ops *ops;
    struct vdev_virtio_queue q[FX_QUEUES];
    bool started[FX_QUEUES];
    uint64_t features;
    uint64_t next_byte;
    bool done[FX_QUEUES][VH_IDS];
    uint32_t used_len[FX_QUEUES][VH_IDS];
    uint16_t order[FX_QUEUES][4096];
    unsigned norder[FX_QUEUES];
    int fds_before;
};

struct vh *vh_new(const struct vh_opts *o);
/* Stops what is started, frees everything, removes the image, checks fds. */
void vh_free(struct vh *h);

/* Starts ring qi (where it stopped, if it did) and then the device's queue. */
void vh_start(struct vh *h, unsigned qi);
/* queue_stop, then vh_ring_stop(). */
void vh_stop(struct vh *h, unsigned qi);
/* Stops ring qi as a transport does after queue_stop, keeping its base. */
void vh_ring_stop(struct vh *h, unsigned qi);

uint8_t vh_pattern(uint64_t off);
/* The image file, read with pread. */
void vh_pread(struct vh *h, void *buf, uint64_t len, uint64_t off);
void vh_check_image(struct vh *h, uint64_t off, uint64_t len, bool zero);

/* len bytes of guest memory, zeroed, page-aligned from a page up (64-byte
 * aligned below); never handed out twice in a test (1 MiB in all). */
uint64_t vh_alloc(struct vh *h, uint32_t len);
void *vh_host(struct vh *h, uint64_t gpa);
/* A 16-byte request header at a new address. */
uint64_t vh_hdr(struct vh *h, uint32_t type, uint64_t sector);

/* Makes a request available (no kick); returns its id. */
uint16_t vh_add(struct vh *h, unsigned qi, const struct vdev_vqd_buf *out, unsigned n_out,
                const struct vdev_vqd_buf *in, unsigned n_in);
/* queue_kick, as the worker does on a kick. */
void vh_kick(struct vh *h, unsigned qi);
/* Takes the used elements there are; true if id is among what was used. */
bool vh_used(struct vh *h, unsigned qi, uint16_t id);
/* Without running anything: true if id was used, and then id is free to come
 * back. */
bool vh_take(struct vh *h, unsigned qi, uint16_t id);
/* Runs the loop until id is used (fails after 10 s); its used length. The id
 * is free to come back afterwards. */
uint32_t vh_wait(struct vh *h, unsigned qi, uint16_t id);
/* Runs one round of the loop, at most ms milliseconds. */
void vh_run(struct vh *h, int ms);

/* The usual request: header, data (out or in), status byte, each in its own
 * descriptor (no data descriptor when len is 0). Waits; returns the status and
 * the used length. */
uint8_t vh_io(struct vh *h, unsigned qi, uint32_t type, uint64_t sector,
              uint64_t data_gpa, uint32_t len, bool data_in, uint32_t *used);
/* Writes len bytes from src at sector and checks OK. */
void vh_write(struct vh *h, unsigned qi, uint64_t sector, const void *src, uint32_t len);
/* Reads len bytes at sector into dst and checks OK. */
void vh_read(struct vh *h, unsigned qi, uint64_t sector, void *dst, uint32_t len);
/* A discard or write-zeroes of n ranges; returns the status. */
uint8_t vh_ranges(struct vh *h, unsigned qi, uint32_t type,
                  const struct virtio_blk_discard_write_zeroes *r, unsigned n);
struct virtio_blk_discard_write_zeroes vh_range(uint64_t sector, uint32_t n, uint32_t flags);

/* The configuration space as the driver reads it. */
struct virtio_blk_config vh_config(struct vh *h);

#endif
