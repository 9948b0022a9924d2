/* blk.c — a backend's life (open from a spec, info, close) and the submit calls:
 * every request is checked here, once, before a driver sees it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/log.h"
#include "block_internal.h"

static const struct blk_driver *const drivers[] = {
    &blk_file_driver,
    &blk_null_driver,
};

int blk_new(const struct blk_driver *drv, struct vdev_blk **out)
{
    struct vdev_blk *b = calloc(1, sizeof(*b));

    if (!b)
        return -ENOMEM;
    b->drv = drv;
    b->fd = -1;
    atomic_init(&b->no_zero_range, false);
    *out = b;
    return 0;
}

VDEV_API int vdev_blk_open(const char *spec, bool read_only, struct vdev_blk **out)
{
    const struct blk_driver *drv = NULL;
    struct blk_spec s;
    struct vdev_blk *b;
    int ret;

    if (!spec || !out)
        return -EINVAL;
    ret = blk_spec_parse(spec, &s);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i]->name, s.driver) == 0)
            drv = drivers[i];
    if (!drv) {
        vdev_warn("block: unknown driver \"%s\"", s.driver);
        blk_spec_free(&s);
        return -EINVAL;
    }
    ret = blk_new(drv, &b);
    if (ret == 0) {
        ret = drv->open(b, &s, read_only);
        if (ret < 0)
            free(b);
    }
    blk_spec_free(&s);
    if (ret == 0)
        *out = b;
    return ret;
}

VDEV_API void vdev_blk_close(struct vdev_blk *b)
{
    if (!b)
        return;
    if (b->drv->close)
        b->drv->close(b);
    free(b);
}

VDEV_API const struct vdev_blk_info *vdev_blk_get_info(const struct vdev_blk *b)
{
    return &b->info;
}

VDEV_API const char *vdev_blk_driver(const struct vdev_blk *b)
{
    return b->drv->name;
}

static int check_range(const struct vdev_blk *b, uint64_t offset, uint64_t len)
{
    uint64_t bs = b->info.block_size;

    if (offset % bs != 0 || len % bs != 0)
        return -EINVAL;
    if (offset > b->info.size || len > b->info.size - offset)
        return -ERANGE;
    return 0;
}

/* Sums the iovecs; -ERANGE if they add up past 2^64. */
static int iov_sum(const struct iovec *iov, unsigned iovcnt, uint64_t *out)
{
    uint64_t len = 0;

    for (unsigned i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > UINT64_MAX - len)
            return -ERANGE;
        len += iov[i].iov_len;
    }
    *out = len;
    return 0;
}

static int submit_rw(struct vdev_blk_ctx *c, struct vdev_blk *b, enum blk_op op,
                     uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                     unsigned flags, vdev_blk_cb cb, void *opaque)
{
    struct blk_req *r;
    uint64_t len;
    int ret;

    if ((iovcnt > 0 && !iov) || (flags & ~VDEV_BLK_FUA) ||
        (op == BLK_OP_READ && flags != 0))
        return -EINVAL;
    ret = iov_sum(iov, iovcnt, &len);
    if (ret < 0)
        return ret;
    if (op == BLK_OP_WRITE && b->info.read_only)
        return -EROFS;
    ret = check_range(b, offset, len);
    if (ret < 0)
        return ret;
    r = blk_req_get(c);
    if (!r)
        return -ENOMEM;
    if (blk_req_iov_reserve(r, iovcnt) < 0) {
        blk_req_put(c, r);
        return -ENOMEM;
    }
    if (iovcnt > 0)
        memcpy(r->iov_store, iov, (size_t)iovcnt * sizeof(*iov));
    *r = (struct blk_req){
        .ctx = c, .blk = b, .op = op, .flags = flags, .offset = offset, .len = len,
        .iov = r->iov_store, .iovcnt = iovcnt, .iov_store = r->iov_store,
        .iov_cap = r->iov_cap, .iov_total = iovcnt, .total_len = len,
        .cb = cb, .opaque = opaque,
    };
    blk_iov_advance(r, 0);      /* no empty iovec in front */
    blk_ctx_accept(c, r);
    return 0;
}

VDEV_API int vdev_blk_readv(struct vdev_blk_ctx *c, struct vdev_blk *b, uint64_t offset,
                            const struct iovec *iov, unsigned iovcnt,
                            vdev_blk_cb cb, void *opaque)
{
    return submit_rw(c, b, BLK_OP_READ, offset, iov, iovcnt, 0, cb, opaque);
}

VDEV_API int vdev_blk_writev(struct vdev_blk_ctx *c, struct vdev_blk *b, uint64_t offset,
                             const struct iovec *iov, unsigned iovcnt, unsigned flags,
                             vdev_blk_cb cb, void *opaque)
{
    return submit_rw(c, b, BLK_OP_WRITE, offset, iov, iovcnt, flags, cb, opaque);
}

VDEV_API int vdev_blk_flush(struct vdev_blk_ctx *c, struct vdev_blk *b,
                            vdev_blk_cb cb, void *opaque)
{
    struct blk_req *r = blk_req_get(c);

    if (!r)
        return -ENOMEM;
    r->blk = b;
    r->op = BLK_OP_FLUSH;
    r->cb = cb;
    r->opaque = opaque;
    blk_ctx_accept(c, r);
    return 0;
}

static int submit_range(struct vdev_blk_ctx *c, struct vdev_blk *b, enum blk_op op,
                        uint64_t offset, uint64_t len, unsigned flags,
                        vdev_blk_cb cb, void *opaque)
{
    unsigned allowed = VDEV_BLK_FUA | (op == BLK_OP_WRITE_ZEROES ? VDEV_BLK_UNMAP : 0);
    bool supported = op == BLK_OP_DISCARD ? b->info.discard : b->info.write_zeroes;
    struct blk_req *r;
    int ret;

    if (flags & ~allowed)
        return -EINVAL;
    if (b->info.read_only)
        return -EROFS;
    if (!supported)
        return -EOPNOTSUPP;
    ret = check_range(b, offset, len);
    if (ret < 0)
        return ret;
    r = blk_req_get(c);
    if (!r)
        return -ENOMEM;
    r->blk = b;
    r->op = op;
    r->flags = flags;
    r->offset = offset;
    r->len = len;
    r->total_len = len;
    r->cb = cb;
    r->opaque = opaque;
    blk_ctx_accept(c, r);
    return 0;
}

VDEV_API int vdev_blk_discard(struct vdev_blk_ctx *c, struct vdev_blk *b, uint64_t offset,
                              uint64_t len, unsigned flags, vdev_blk_cb cb, void *opaque)
{
    return submit_range(c, b, BLK_OP_DISCARD, offset, len, flags, cb, opaque);
}

VDEV_API int vdev_blk_write_zeroes(struct vdev_blk_ctx *c, struct vdev_blk *b,
                                   uint64_t offset, uint64_t len, unsigned flags,
                                   vdev_blk_cb cb, void *opaque)
{
    return submit_range(c, b, BLK_OP_WRITE_ZEROES, offset, len, flags, cb, opaque);
}
