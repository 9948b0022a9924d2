/* block.h — block backends behind one asynchronous interface.
 *
 * A backend (struct vdev_blk) is opened once from a spec string and may be used
 * by many threads. I/O goes through a context (struct vdev_blk_ctx) that belongs
 * to one thread, usually a worker: one io_uring, and an eventfd that becomes
 * readable when completions wait (completions a backend makes at once, such as
 * null's, are announced at the next submit or reap, not when the request is
 * made: a caller that reaps right after submitting pays no eventfd write for
 * them). Watch that fd on the worker's vdev_loop and
 * call vdev_blk_ctx_event() when it fires; a polling worker calls
 * vdev_blk_ctx_reap() instead.
 *
 * Requests are offsets and lengths in bytes, multiples of the backend's
 * block_size. A request that is accepted (the submit call returned 0) ends with
 * exactly one call of its callback, never from inside the submit call: from
 * reap, event, wait or drain on the same context. A request refused by the
 * submit call never calls back.
 *
 * Requests are prepared at once and reach the kernel at the next
 * vdev_blk_ctx_submit() (or reap, event, wait, drain). A full ring is not an
 * error: the request waits in the context and goes out when there is room.
 * Short transfers are resubmitted for the rest, -EAGAIN and -EINTR are retried.
 *
 * Ordering: a write completes once the backend holds it (in the page cache for a
 * buffered file, on the device for direct=on). A flush is issued only when every
 * write, discard and write-zeroes submitted before it on the same context, to the
 * same backend, has completed; it then makes them durable (fdatasync). Nothing
 * else is ordered.
 *
 * Specs, "<driver>:<key>=<value>,..." (a comma inside a value is written ",,"):
 *   file:path=PATH[,direct=on|off][,ro=on|off]
 *        a regular file or a block device; direct=on opens it O_DIRECT
 *   null[:size=BYTES][,bs=BYTES][,ro=on|off]
 *        completes every request at once; reads return zeroes. size takes a
 *        K, M, G or T suffix (powers of 1024) and defaults to 1G; bs (512 by
 *        default) is a power of two from 512 to 65536. */
#ifndef VDEV_BLOCK_H
#define VDEV_BLOCK_H

#include <sys/uio.h>
#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_blk;
struct vdev_blk_ctx;

struct vdev_blk_info {
    uint64_t size;                  /* bytes, a multiple of block_size */
    uint32_t block_size;            /* logical block: every offset and length is a
                                     * multiple of it */
    uint32_t physical_block_size;   /* a multiple of block_size */
    uint32_t min_io_size;           /* bytes, 0 if unknown */
    uint32_t opt_io_size;           /* bytes, 0 if unknown */
    bool read_only;
    bool discard;                   /* vdev_blk_discard() is supported */
    bool write_zeroes;              /* vdev_blk_write_zeroes() is supported */
    bool zeroes_may_unmap;          /* write-zeroes with VDEV_BLK_UNMAP may
                                     * deallocate */
    bool direct;                    /* O_DIRECT */
};

/* Request flags. */
#define VDEV_BLK_FUA    0x1u        /* writes, discard, write-zeroes: durable when
                                     * the request completes (RWF_DSYNC, or a
                                     * fdatasync after it) */
#define VDEV_BLK_UNMAP  0x2u        /* write-zeroes: the range may be deallocated */

/* result: 0, or a negative errno (-EIO, -ENOSPC, -EOPNOTSUPP, ...). For a read or
 * a write, 0 means every byte was transferred. */
typedef void (*vdev_blk_cb)(void *opaque, int result);

/* Opens the backend spec describes; read_only forces it read-only. Returns 0, or:
 *   -EINVAL   a malformed spec, an unknown driver or key, a file that is neither
 *             regular nor a block device, direct=on on a filesystem that refuses
 *             O_DIRECT
 *   -ENOMEM, or the error of open(2) / the backend's probes */
VDEV_API int  vdev_blk_open(const char *spec, bool read_only, struct vdev_blk **out);
/* Every context must be done with the backend (nothing in flight on it). */
VDEV_API void vdev_blk_close(struct vdev_blk *b);
VDEV_API const struct vdev_blk_info *vdev_blk_get_info(const struct vdev_blk *b);
/* The driver's name: "file", "null". */
VDEV_API const char *vdev_blk_driver(const struct vdev_blk *b);

/* A context with an io_uring of entries entries (0: 128; clamped to 4096).
 * Returns 0, -ENOMEM, or the error of io_uring_queue_init or eventfd. */
VDEV_API int  vdev_blk_ctx_new(unsigned entries, struct vdev_blk_ctx **out);
/* Waits for every request in flight (running their callbacks), then frees. */
VDEV_API void vdev_blk_ctx_free(struct vdev_blk_ctx *c);

/* The completion eventfd: readable when vdev_blk_ctx_event() has work. The fd
 * stays the context's. */
VDEV_API int  vdev_blk_ctx_fd(const struct vdev_blk_ctx *c);

/* Hands every prepared request to the kernel. 0 or a negative errno of
 * io_uring_submit (the requests stay queued and go out later). */
VDEV_API int  vdev_blk_ctx_submit(struct vdev_blk_ctx *c);
/* Takes the completions that are ready, resubmits what needs more, runs the
 * callbacks of what finished and submits. Returns the number of callbacks run.
 * Does not read the eventfd: for a polling caller. Not from inside a callback. */
VDEV_API int  vdev_blk_ctx_reap(struct vdev_blk_ctx *c);
/* For the eventfd's watch: clears the eventfd, then reaps. */
VDEV_API int  vdev_blk_ctx_event(struct vdev_blk_ctx *c);
/* Blocks until at least one callback has run; returns their number, 0 when
 * nothing is in flight, or a negative errno of io_uring_wait_cqe. */
VDEV_API int  vdev_blk_ctx_wait(struct vdev_blk_ctx *c);
/* Waits until nothing is in flight. 0 or a negative errno. */
VDEV_API int  vdev_blk_ctx_drain(struct vdev_blk_ctx *c);
/* Requests accepted whose callback has not run yet. */
VDEV_API unsigned vdev_blk_ctx_inflight(const struct vdev_blk_ctx *c);

/* Submit calls. The iovecs are copied; the buffers they point to must stay valid
 * until the callback. Each returns 0 (accepted) or, with no callback:
 *   -EINVAL   offset or length not a multiple of block_size, unknown flags
 *   -ERANGE   the range runs past the end of the backend (or wraps)
 *   -EROFS    a write, discard or write-zeroes on a read-only backend
 *   -EOPNOTSUPP  discard or write-zeroes the backend does not support
 *   -ENOMEM */
VDEV_API int vdev_blk_readv(struct vdev_blk_ctx *c, struct vdev_blk *b, uint64_t offset,
                            const struct iovec *iov, unsigned iovcnt,
                            vdev_blk_cb cb, void *opaque);
/* flags: VDEV_BLK_FUA. */
VDEV_API int vdev_blk_writev(struct vdev_blk_ctx *c, struct vdev_blk *b, uint64_t offset,
                             const struct iovec *iov, unsigned iovcnt, unsigned flags,
                             vdev_blk_cb cb, void *opaque);
VDEV_API int vdev_blk_flush(struct vdev_blk_ctx *c, struct vdev_blk *b,
                            vdev_blk_cb cb, void *opaque);
/* The range may be deallocated; what it reads afterwards is undefined.
 * flags: VDEV_BLK_FUA. */
VDEV_API int vdev_blk_discard(struct vdev_blk_ctx *c, struct vdev_blk *b, uint64_t offset,
                              uint64_t len, unsigned flags, vdev_blk_cb cb, void *opaque);
/* The range reads as zeroes afterwards. flags: VDEV_BLK_FUA, VDEV_BLK_UNMAP. */
VDEV_API int vdev_blk_write_zeroes(struct vdev_blk_ctx *c, struct vdev_blk *b,
                                   uint64_t offset, uint64_t len, unsigned flags,
                                   vdev_blk_cb cb, void *opaque);

#ifdef __cplusplus
}
#endif

#endif
