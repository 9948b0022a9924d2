/* blk_gate.h — a block backend for tests that holds writes, discards and
 * write-zeroes until the test lets them go (or, with delay_ms, for that long in
 * the kernel: an io_uring timeout stands for each); flushes and reads complete
 * at once (reads return zeroes). It records what it saw, so a test can tell
 * when a flush was issued and with which flags a write came. */
#ifndef VDEV_TEST_BLK_GATE_H
#define VDEV_TEST_BLK_GATE_H

#include <liburing.h>

#include "vdev/block.h"

#define BLK_GATE_MAX 64

struct blk_req;

struct blk_gate {
    struct blk_req *held[BLK_GATE_MAX];
    unsigned flags[BLK_GATE_MAX];       /* the request flags of each held one */
    unsigned nheld;                     /* held so far, released or not */
    unsigned flushes_started;
    unsigned delay_ms;                  /* set after new: delay, do not hold */
    struct __kernel_timespec ts;
};

/* A backend of size bytes (block 512, discard and write-zeroes) on g. */
void blk_gate_new(struct blk_gate *g, uint64_t size, struct vdev_blk **out);
/* Completes held request i with result and wakes its context's eventfd. */
void blk_gate_release(struct blk_gate *g, unsigned i, int result);
/* Releases everything still held. */
void blk_gate_release_all(struct blk_gate *g);

#endif
