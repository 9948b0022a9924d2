/* job.h — one run of vdev-bench: connect to a virtio-blk device over
 * o->transport (vhost-user or vfio-user, transport.h), negotiate, share memory,
 * set the queues up, keep iodepth requests in flight on
 * each queue for the time asked, and account for every completion.
 *
 * One thread drives every queue (both clients: one thread per client).
 * A request's latency runs from just before it is made available to just after
 * its used element is seen. */
#ifndef VDEV_BENCH_JOB_H
#define VDEV_BENCH_JOB_H

#include <signal.h>
#include <stdint.h>

#include "histogram.h"
#include "options.h"

struct bench_result {
    double seconds;            /* first submit to last completion */
    uint64_t capacity;         /* the disk's bytes (config space), 0 if unknown */
    uint64_t span;             /* bytes of it used */
    uint64_t ios, reads, writes;
    uint64_t bytes;            /* data moved */
    uint64_t bytes_written, bytes_verified;   /* verify */
    uint64_t io_errors, mismatches;
    uint16_t queue_size;
    uint64_t features;         /* acked */
    struct bench_hist lat;     /* ns */
};

/* Once a second while the job runs: the time since the start, and what
 * completed since the last call. */
struct bench_progress {
    double elapsed, interval;
    uint64_t ios;
    const struct bench_hist *lat;
};
typedef void (*bench_progress_fn)(void *opaque, const struct bench_progress *p);

/* Runs the job o describes. stop (may be NULL) ends the timed phase early when
 * it becomes non-zero, and verify's read-back too when it is above 1 (then what
 * was written last is not all checked). Returns 0, or:
 *   -EIO      a request failed (r->io_errors)
 *   -EILSEQ   verify read back other data than it wrote (r->mismatches)
 *   -ETIMEDOUT  no completion for 10 s with requests in flight
 *   -EINVAL   the options do not fit the device (a line on stderr says why)
 *   the error of connecting or of a vhost-user or vfio-user request.
 * r holds what was measured up to the error. */
int bench_run(const struct bench_options *o, struct bench_result *r,
              bench_progress_fn progress, void *opaque, volatile sig_atomic_t *stop);

#endif
