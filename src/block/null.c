/* null.c — the null backend: every request completes at once, reads return
 * zeroes, writes go nowhere. For tests and for measuring everything but I/O. */
#include <errno.h>

#include "vdev/log.h"
#include "block_internal.h"

#define NULL_DEFAULT_SIZE (1ull << 30)

static const char *const null_keys[] = { "size", "bs", "ro", NULL };

static int null_open(struct vdev_blk *b, const struct blk_spec *s, bool read_only)
{
    const char *size = blk_spec_get(s, "size"), *bs = blk_spec_get(s, "bs");
    uint64_t bytes = NULL_DEFAULT_SIZE, block = 512;
    bool ro = false;
    int ret = blk_spec_check_keys(s, null_keys);

    if (ret < 0)
        return ret;
    if (size && blk_spec_size(size, &bytes) < 0) {
        vdev_warn("block: null: size=%s is not a size", size);
        return -EINVAL;
    }
    if (bs && (blk_spec_size(bs, &block) < 0 || block < 512 || block > 65536 ||
               (block & (block - 1)) != 0)) {
        vdev_warn("block: null: bs=%s is not a power of two from 512 to 65536", bs);
        return -EINVAL;
    }
    if (bytes % block != 0) {
        vdev_warn("block: null: size %llu is not a multiple of bs %llu",
                  (unsigned long long)bytes, (unsigned long long)block);
        return -EINVAL;
    }
    ret = blk_spec_bool(s, "ro", &ro);
    if (ret < 0)
        return ret;
    ro = ro || read_only;
    b->info = (struct vdev_blk_info){
        .size = bytes, .block_size = (uint32_t)block,
        .physical_block_size = (uint32_t)block, .read_only = ro,
        .discard = !ro, .write_zeroes = !ro,
    };
    return 0;
}

static void null_start(struct blk_req *r)
{
    if (r->op == BLK_OP_READ)
        blk_iov_zero(r->iov, r->iovcnt);
    blk_req_finish(r, 0);
}

static void null_cqe(struct blk_req *r, int res)
{
    (void)res;
    blk_req_finish(r, -EIO);    /* never: null takes no SQE */
}

const struct blk_driver blk_null_driver = {
    .name = "null",
    .open = null_open,
    .start = null_start,
    .cqe = null_cqe,
};
