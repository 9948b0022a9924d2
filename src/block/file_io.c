/* file_io.c — the file backend's requests on io_uring: reads and writes with
 * short transfers resubmitted, fdatasync, discard and write-zeroes through
 * fallocate (on the ring when the kernel has IORING_OP_FALLOCATE, inline
 * otherwise), the block device ioctls, and the fallbacks when a filesystem
 * lacks a mode. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vdev/log.h"
#include "block_internal.h"

#define FILE_MAX_RETRIES 64u        /* -EAGAIN / -EINTR in a row before giving up */
#define ZERO_CHUNK       4096u
#define ZERO_IOVS        64u

/* Where a request is: the stage says what its SQE (or inline call) does. */
enum {
    ST_IO = 0,          /* read, write or flush: the request itself */
    ST_PUNCH,           /* fallocate PUNCH_HOLE */
    ST_ZERO_RANGE,      /* fallocate ZERO_RANGE */
    ST_ZERO_WRITES,     /* writes from a page of zeroes */
    ST_FSYNC,           /* the fdatasync after a FUA discard or write-zeroes */
};

static const char zero_page[ZERO_CHUNK] __attribute__((aligned(ZERO_CHUNK)));

static void file_issue(struct blk_req *r);

static bool retry(struct blk_req *r, int res)
{
    if ((res != -EAGAIN && res != -EINTR) || r->retries >= FILE_MAX_RETRIES)
        return false;
    r->retries++;
    file_issue(r);
    return true;
}

/* A discard or write-zeroes is done: with FUA it still needs its fdatasync. */
static void step_done(struct blk_req *r)
{
    if (r->flags & VDEV_BLK_FUA) {
        r->stage = ST_FSYNC;
        r->retries = 0;
        file_issue(r);
        return;
    }
    blk_req_finish(r, 0);
}

/* ---- reads and writes ---- */

/* O_DIRECT wants every buffer aligned to mem_align and every length to the
 * block size; guest buffers need not be. */
static bool needs_bounce(const struct blk_req *r)
{
    const struct vdev_blk *b = r->blk;

    if (!b->info.direct)
        return false;
    for (unsigned i = 0; i < r->iovcnt; i++)
        if ((uintptr_t)r->iov[i].iov_base % b->mem_align != 0 ||
            r->iov[i].iov_len % b->info.block_size != 0)
            return true;
    return false;
}

static int bounce_setup(struct blk_req *r)
{
    size_t align = r->blk->mem_align < ZERO_CHUNK ? ZERO_CHUNK : r->blk->mem_align;
    void *p;

    if (posix_memalign(&p, align, r->len) != 0)
        return -ENOMEM;
    if (r->op == BLK_OP_WRITE)
        blk_iov_to_buf(r->iov, r->iovcnt, p, r->len);
    r->bounce = p;
    r->bounce_iov = (struct iovec){ p, r->len };
    r->iov = &r->bounce_iov;
    r->iovcnt = 1;
    return 0;
}

static void rw_issue(struct blk_req *r)
{
    struct io_uring_sqe *sqe;
    unsigned n;

    if (!r->bounce && needs_bounce(r) && bounce_setup(r) < 0) {
        blk_req_finish(r, -ENOMEM);
        return;
    }
    sqe = blk_ctx_sqe(r);
    if (!sqe)
        return;
    /* More than IOV_MAX iovecs go in turns, as short transfers. */
    n = r->iovcnt < IOV_MAX ? r->iovcnt : IOV_MAX;
    if (r->op == BLK_OP_READ)
        io_uring_prep_readv(sqe, r->blk->fd, r->iov, n, r->offset);
    else
        io_uring_prep_writev2(sqe, r->blk->fd, r->iov, n, r->offset,
                              (r->flags & VDEV_BLK_FUA) ? RWF_DSYNC : 0);
    io_uring_sqe_set_data(sqe, r);
}

static void rw_done(struct blk_req *r)
{
    if (r->op == BLK_OP_READ && r->bounce)
        blk_iov_from_buf(r->iov_store, r->iov_total, r->bounce, r->total_len);
    blk_req_finish(r, 0);
}

/* Past the end of a regular file (it shrank under us) reads are zeroes. */
static void read_eof(struct blk_req *r)
{
    blk_iov_zero(r->iov, r->iovcnt);
    rw_done(r);
}

static void rw_cqe(struct blk_req *r, int res)
{
    if (retry(r, res))
        return;
    if (res < 0) {
        blk_req_finish(r, res);
        return;
    }
    r->retries = 0;
    if ((uint64_t)res > r->len)
        res = (int)r->len;      /* never: the kernel moved at most what we gave */
    if (res == 0) {
        if (r->op == BLK_OP_READ)
            read_eof(r);
        else
            blk_req_finish(r, -EIO);
        return;
    }
    blk_iov_advance(r, (uint64_t)res);
    r->offset += (uint64_t)res;
    r->len -= (uint64_t)res;
    if (r->len == 0) {
        rw_done(r);
        return;
    }
    /* A direct read that stops off the block size stopped at the end of file:
     * the next one could not even be issued. */
    if (r->op == BLK_OP_READ && r->blk->info.direct &&
        r->offset % r->blk->info.block_size != 0) {
        read_eof(r);
        return;
    }
    file_issue(r);
}

/* ---- flush ---- */

static void fsync_issue(struct blk_req *r)
{
    struct io_uring_sqe *sqe = blk_ctx_sqe(r);

    if (!sqe)
        return;
    io_uring_prep_fsync(sqe, r->blk->fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data(sqe, r);
}

static void fsync_cqe(struct blk_req *r, int res)
{
    if (retry(r, res))
        return;
    blk_req_finish(r, res < 0 ? res : 0);
}

/* ---- discard and write-zeroes ---- */

static void zero_writes_issue(struct blk_req *r)
{
    struct io_uring_sqe *sqe;
    uint64_t left = r->len;
    unsigned n = 0;

    if (blk_req_iov_reserve(r, ZERO_IOVS) < 0) {
        blk_req_finish(r, -ENOMEM);
        return;
    }
    sqe = blk_ctx_sqe(r);
    if (!sqe)
        return;
    while (left > 0 && n < ZERO_IOVS) {
        size_t l = left < ZERO_CHUNK ? (size_t)left : ZERO_CHUNK;

        r->iov_store[n++] = (struct iovec){ (void *)zero_page, l };
        left -= l;
    }
    io_uring_prep_writev2(sqe, r->blk->fd, r->iov_store, n, r->offset,
                          (r->flags & VDEV_BLK_FUA) ? RWF_DSYNC : 0);
    io_uring_sqe_set_data(sqe, r);
}

static void zero_writes_cqe(struct blk_req *r, int res)
{
    if (retry(r, res))
        return;
    if (res <= 0) {
        blk_req_finish(r, res < 0 ? res : -EIO);
        return;
    }
    r->retries = 0;
    if ((uint64_t)res > r->len)
        res = (int)r->len;
    r->offset += (uint64_t)res;
    r->len -= (uint64_t)res;
    if (r->len == 0)
        blk_req_finish(r, 0);   /* RWF_DSYNC made a FUA request durable */
    else
        file_issue(r);
}

static void fallocate_cqe(struct blk_req *r, int res);

static void fallocate_issue(struct blk_req *r)
{
    int mode = FALLOC_FL_KEEP_SIZE |
               (r->stage == ST_PUNCH ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
    struct io_uring_sqe *sqe;
    int res;

    if (r->ctx->has_fallocate) {
        sqe = blk_ctx_sqe(r);
        if (!sqe)
            return;
        io_uring_prep_fallocate(sqe, r->blk->fd, mode, (off_t)r->offset, (off_t)r->len);
        io_uring_sqe_set_data(sqe, r);
        return;
    }
    do {
        res = fallocate(r->blk->fd, mode, (off_t)r->offset, (off_t)r->len) < 0 ? -errno : 0;
    } while (res == -EINTR);
    fallocate_cqe(r, res);
}

/* Write zeroes the best way the file still allows. */
static void zeroes_plan(struct blk_req *r)
{
    if ((r->flags & VDEV_BLK_UNMAP) && r->blk->info.discard && r->stage == ST_IO)
        r->stage = ST_PUNCH;
    else if (!atomic_load_explicit(&r->blk->no_zero_range, memory_order_relaxed) &&
             r->stage < ST_ZERO_RANGE)
        r->stage = ST_ZERO_RANGE;
    else
        r->stage = ST_ZERO_WRITES;
    r->retries = 0;
}

static void fallocate_cqe(struct blk_req *r, int res)
{
    if (retry(r, res))
        return;
    if (res == -EOPNOTSUPP && r->op == BLK_OP_WRITE_ZEROES) {
        if (r->stage == ST_ZERO_RANGE) {
            atomic_store_explicit(&r->blk->no_zero_range, true, memory_order_relaxed);
            vdev_info("block: file: no FALLOC_FL_ZERO_RANGE here; writing zeroes");
        }
        zeroes_plan(r);
        file_issue(r);
        return;
    }
    if (res < 0) {
        blk_req_finish(r, res);
        return;
    }
    step_done(r);
}

/* Block devices: the kernel's own discard and zero-out, inline. */
static void bdev_range(struct blk_req *r, unsigned long req)
{
    uint64_t range[2] = { r->offset, r->len };
    int res;

    do {
        res = ioctl(r->blk->fd, req, range) < 0 ? -errno : 0;
    } while (res == -EINTR);
    if (res < 0)
        blk_req_finish(r, res);
    else
        step_done(r);
}

static void range_issue(struct blk_req *r)
{
    if (r->op == BLK_OP_DISCARD) {
        if (r->blk->is_bdev) {
            bdev_range(r, BLKDISCARD);
            return;
        }
        r->stage = ST_PUNCH;
    } else {
        if (r->blk->is_bdev) {
            bdev_range(r, BLKZEROOUT);
            return;
        }
        zeroes_plan(r);
    }
    file_issue(r);
}

/* ---- the driver ---- */

static void file_issue(struct blk_req *r)
{
    switch (r->stage) {
    case ST_PUNCH:
    case ST_ZERO_RANGE:
        fallocate_issue(r);
        return;
    case ST_ZERO_WRITES:
        zero_writes_issue(r);
        return;
    case ST_FSYNC:
        fsync_issue(r);
        return;
    default:
        break;
    }
    switch (r->op) {
    case BLK_OP_READ:
    case BLK_OP_WRITE:
        rw_issue(r);
        return;
    case BLK_OP_FLUSH:
        fsync_issue(r);
        return;
    case BLK_OP_DISCARD:
    case BLK_OP_WRITE_ZEROES:
        range_issue(r);
        return;
    }
}

void blk_file_start(struct blk_req *r)
{
    file_issue(r);
}

void blk_file_cqe(struct blk_req *r, int res)
{
    switch (r->stage) {
    case ST_PUNCH:
    case ST_ZERO_RANGE:
        fallocate_cqe(r, res);
        return;
    case ST_ZERO_WRITES:
        zero_writes_cqe(r, res);
        return;
    case ST_FSYNC:
        fsync_cqe(r, res);
        return;
    default:
        break;
    }
    if (r->op == BLK_OP_FLUSH)
        fsync_cqe(r, res);
    else
        rw_cqe(r, res);
}
