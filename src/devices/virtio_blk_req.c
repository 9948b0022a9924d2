/* virtio_blk_req.c — one virtio-blk request (virtio 1.2, 5.2.6): framed by bytes
 * (2.6.4), checked in the order its fields come, then done by the block layer
 * or completed at once with the status the spec gives. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "vdev/mem.h"
#include "virtio_blk_internal.h"

bool vblk_writethrough(const struct vblk_dev *d)
{
    if (vblk_has(d, VIRTIO_BLK_F_CONFIG_WCE))
        return vblk_wce(d) == 0;
    /* FLUSH offered and not taken: every write must be stable on completion. */
    return d->writethrough || !vblk_has(d, VIRTIO_BLK_F_FLUSH);
}

void vblk_req_complete(struct vblk_req *r, uint8_t status)
{
    struct vblk_queue *q = r->q;
    uint32_t used = 0;

    if (q->dead) {              /* stopped under it: the ring is gone */
        r->next_free = q->free;
        q->free = r;
        q->inflight--;
        return;
    }
    if (r->status) {
        *r->status = status;
        r->vq.iov[r->status_iov].iov_len = r->status_iov_len;
        /* The push logs the first used bytes; the status sits at the end. */
        vdev_mem_mark_dirty(q->vq->mem, r->status_gpa, 1);
        used = status == VIRTIO_BLK_S_OK ? r->used : 1;
    }
    vdev_vq_push(q->vq->vq, &r->vq, used);
    q->notify = true;
    r->next_free = q->free;
    q->free = r;
    q->inflight--;
}

/* One line per request that is wrong, then the status. */
static void reject(struct vblk_req *r, uint8_t status, const char *why)
{
    vdev_warn("virtio-blk: queue %u: request type %u, sector %llu: %s",
              r->q->vq->index, r->type, (unsigned long long)r->sector, why);
    vblk_req_complete(r, status);
}

/* ---- framing ---- */

/* The status is the last writable byte: cut it from its iovec (put back at
 * completion, for the push's dirty log). */
static bool frame_status(struct vblk_req *r)
{
    struct vdev_vq_req *v = &r->vq;
    uint32_t last;

    if (v->n_in == 0)
        return false;
    last = v->n_out + v->n_in - 1;
    r->status = (uint8_t *)v->iov[last].iov_base + v->iov[last].iov_len - 1;
    r->status_gpa = v->iov_gpa[last] + v->iov[last].iov_len - 1;
    r->status_iov = last;
    r->status_iov_len = v->iov[last].iov_len;
    v->iov[last].iov_len--;
    return true;
}

/* Copies the header out of the first readable bytes and leaves r->data on what
 * follows it. */
static bool frame_header(struct vblk_req *r, struct virtio_blk_outhdr *h)
{
    struct vdev_vq_req *v = &r->vq;
    uint8_t *dst = (uint8_t *)h;
    size_t need = sizeof(*h);
    uint32_t i = 0;

    if (v->out_len < sizeof(*h))
        return false;
    while (need > 0) {
        struct iovec *iov = &v->iov[i];
        size_t k = iov->iov_len < need ? iov->iov_len : need;

        memcpy(dst, iov->iov_base, k);
        dst += k;
        need -= k;
        iov->iov_base = (uint8_t *)iov->iov_base + k;
        iov->iov_len -= k;
        if (iov->iov_len == 0)
            i++;
    }
    r->data = &v->iov[i];
    r->ndata = v->n_out - i;
    r->data_len = v->out_len - sizeof(*h);
    return true;
}

/* IN and GET_ID: the data is the writable bytes before the status. */
static void frame_writable_data(struct vblk_req *r)
{
    struct vdev_vq_req *v = &r->vq;

    r->data = &v->iov[v->n_out];
    r->ndata = v->n_in - (v->iov[r->status_iov].iov_len == 0 ? 1 : 0);
    r->data_len = v->in_len - 1;
}

/* ---- completions from the block layer ---- */

static uint8_t status_of(int result)
{
    if (result == 0)
        return VIRTIO_BLK_S_OK;
    return result == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
}

static void blk_done(void *opaque, int result)
{
    struct vblk_req *r = opaque;

    if (result < 0 && r->result == 0)
        r->result = result;
    if (--r->pending > 0)
        return;
    if (r->result < 0 && !r->q->dead)
        vdev_warn("virtio-blk: queue %u: request type %u at sector %llu failed: %s",
                  r->q->vq->index, r->type, (unsigned long long)r->sector,
                  vdev_strerror(r->result));
    vblk_req_complete(r, status_of(r->result));
}

/* A submit call refused the request (or one of its ranges): the ranges already
 * accepted still call back. */
static void submitted(struct vblk_req *r, int ret)
{
    if (ret < 0 && r->result == 0)
        r->result = ret;
    blk_done(r, 0);             /* drops the guard taken before submitting */
}

/* ---- the requests ---- */

static bool range_ok(const struct vblk_dev *d, uint64_t sector, uint64_t sectors)
{
    return sector <= d->capacity && sectors <= d->capacity - sector;
}

static bool aligned(const struct vblk_dev *d, uint64_t sector, uint64_t sectors)
{
    uint64_t per_block = d->info.block_size / VBLK_SECTOR;

    return sector % per_block == 0 && sectors % per_block == 0;
}

/* Why an IN or OUT request cannot be done, or NULL. */
static const char *rw_check(const struct vblk_req *r, bool write)
{
    const struct vblk_dev *d = r->q->d;

    if (write && d->read_only)
        return "write to a read-only disk";
    if (r->data_len % VBLK_SECTOR != 0)
        return "data not a multiple of 512 bytes";
    if (r->ndata > d->seg_max)
        return "more segments than seg_max";
    if (!range_ok(d, r->sector, r->data_len / VBLK_SECTOR))
        return "past the end of the disk";
    if (!aligned(d, r->sector, r->data_len / VBLK_SECTOR))
        return "not aligned to blk_size";
    return NULL;
}

static void do_rw(struct vblk_req *r)
{
    struct vblk_dev *d = r->q->d;
    bool write = r->type == VIRTIO_BLK_T_OUT;
    const char *why = rw_check(r, write);
    int ret;

    if (why) {
        reject(r, VIRTIO_BLK_S_IOERR, why);
        return;
    }
    r->used = write ? 1 : (uint32_t)r->data_len + 1;
    r->pending = 1;
    if (write)
        ret = vdev_blk_writev(r->q->w->ctx, d->blk, r->sector * VBLK_SECTOR, r->data,
                              r->ndata, vblk_writethrough(d) ? VDEV_BLK_FUA : 0,
                              blk_done, r);
    else
        ret = vdev_blk_readv(r->q->w->ctx, d->blk, r->sector * VBLK_SECTOR, r->data,
                             r->ndata, blk_done, r);
    if (ret == 0)
        r->pending++;
    submitted(r, ret);
}

static void do_flush(struct vblk_req *r)
{
    struct vblk_dev *d = r->q->d;
    int ret;

    r->used = 1;
    r->pending = 1;
    ret = vdev_blk_flush(r->q->w->ctx, d->blk, blk_done, r);
    if (ret == 0)
        r->pending++;
    submitted(r, ret);
}

static void do_get_id(struct vblk_req *r)
{
    size_t n = r->data_len < VIRTIO_BLK_ID_BYTES ? (size_t)r->data_len
                                                 : VIRTIO_BLK_ID_BYTES;
    const char *src = r->q->d->serial;

    for (unsigned i = 0; i < r->ndata && n > 0; i++) {
        size_t k = r->data[i].iov_len < n ? r->data[i].iov_len : n;

        memcpy(r->data[i].iov_base, src, k);
        src += k;
        n -= k;
    }
    r->used = (uint32_t)(src - r->q->d->serial) + 1;
    vblk_req_complete(r, VIRTIO_BLK_S_OK);
}

/* Copies the ranges out of guest memory once; everything after looks at the
 * copy. Returns 0 or the status to reject with (*why says why). */
static int copy_segments(struct vblk_req *r, unsigned max, const char **why)
{
    uint8_t *dst = (uint8_t *)r->segs;
    uint64_t left;

    if (r->data_len == 0 || r->data_len % sizeof(r->segs[0]) != 0) {
        *why = "range list not a multiple of 16 bytes";
        return VIRTIO_BLK_S_IOERR;
    }
    if (r->data_len / sizeof(r->segs[0]) > max) {
        *why = "more ranges than max_discard_seg / max_write_zeroes_seg";
        return VIRTIO_BLK_S_IOERR;
    }
    r->nsegs = (unsigned)(r->data_len / sizeof(r->segs[0]));
    left = r->data_len;
    for (unsigned i = 0; i < r->ndata && left > 0; i++) {
        size_t k = r->data[i].iov_len < left ? r->data[i].iov_len : (size_t)left;

        memcpy(dst, r->data[i].iov_base, k);
        dst += k;
        left -= k;
    }
    return 0;
}

/* 5.2.6.2: unknown flags are UNSUPP, and so is UNMAP on a discard. */
static int check_segment(const struct vblk_req *r,
                         const struct virtio_blk_discard_write_zeroes *s, const char **why)
{
    const struct vblk_dev *d = r->q->d;
    uint32_t flags = le32toh(s->flags), sectors = le32toh(s->num_sectors);
    uint64_t sector = le64toh(s->sector);
    bool discard = r->type == VIRTIO_BLK_T_DISCARD;

    if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) {
        *why = "reserved flags set in a range";
        return VIRTIO_BLK_S_UNSUPP;
    }
    if (discard && flags) {
        *why = "unmap flag on a discard";
        return VIRTIO_BLK_S_UNSUPP;
    }
    if (sectors > VBLK_DWZ_MAX_SECTORS) {
        *why = "range longer than max_discard_sectors / max_write_zeroes_sectors";
        return VIRTIO_BLK_S_IOERR;
    }
    if (!range_ok(d, sector, sectors)) {
        *why = "range past the end of the disk";
        return VIRTIO_BLK_S_IOERR;
    }
    if (!aligned(d, sector, sectors)) {
        *why = "range not aligned to discard_sector_alignment";
        return VIRTIO_BLK_S_IOERR;
    }
    return 0;
}

/* Checks a discard or write-zeroes and its ranges: 0, or the status to reject
 * with and *why. */
static int ranges_check(struct vblk_req *r, const char **why)
{
    struct vblk_dev *d = r->q->d;
    bool discard = r->type == VIRTIO_BLK_T_DISCARD;
    int status;

    if (!vblk_has(d, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES)) {
        *why = "feature not negotiated";
        return VIRTIO_BLK_S_UNSUPP;
    }
    if (d->read_only) {
        *why = "write to a read-only disk";
        return VIRTIO_BLK_S_IOERR;
    }
    status = copy_segments(r, VBLK_DWZ_MAX_SEG, why);
    for (unsigned i = 0; status == 0 && i < r->nsegs; i++)
        status = check_segment(r, &r->segs[i], why);
    return status;
}

static int submit_range(struct vblk_req *r, const struct virtio_blk_discard_write_zeroes *s)
{
    struct vblk_dev *d = r->q->d;
    uint64_t off = le64toh(s->sector) * VBLK_SECTOR;
    uint64_t len = (uint64_t)le32toh(s->num_sectors) * VBLK_SECTOR;
    unsigned flags = vblk_writethrough(d) ? VDEV_BLK_FUA : 0;

    if (r->type == VIRTIO_BLK_T_DISCARD)
        return vdev_blk_discard(r->q->w->ctx, d->blk, off, len, flags, blk_done, r);
    if (le32toh(s->flags) & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
        flags |= VDEV_BLK_UNMAP;
    return vdev_blk_write_zeroes(r->q->w->ctx, d->blk, off, len, flags, blk_done, r);
}

static void do_ranges(struct vblk_req *r)
{
    const char *why = NULL;
    int status = ranges_check(r, &why);
    int ret = 0;

    if (status != 0) {
        reject(r, (uint8_t)status, why);
        return;
    }
    r->used = 1;
    r->pending = 1;
    for (unsigned i = 0; i < r->nsegs && ret == 0; i++) {
        ret = submit_range(r, &r->segs[i]);
        if (ret == 0)
            r->pending++;
    }
    submitted(r, ret);
}

void vblk_req_handle(struct vblk_req *r)
{
    struct virtio_blk_outhdr h;

    r->status = NULL;
    r->result = 0;
    r->pending = 0;
    r->nsegs = 0;
    r->type = 0;
    r->sector = 0;
    if (!frame_status(r)) {
        vdev_warn("virtio-blk: queue %u: request without a writable status byte",
                  r->q->vq->index);
        vblk_req_complete(r, VIRTIO_BLK_S_IOERR);
        return;
    }
    if (!frame_header(r, &h)) {
        vdev_warn("virtio-blk: queue %u: header shorter than 16 bytes",
                  r->q->vq->index);
        vblk_req_complete(r, VIRTIO_BLK_S_IOERR);
        return;
    }
    r->type = le32toh(h.type);
    r->sector = le64toh(h.sector);
    switch (r->type) {
    case VIRTIO_BLK_T_IN:
        frame_writable_data(r);
        do_rw(r);
        return;
    case VIRTIO_BLK_T_OUT:
        do_rw(r);
        return;
    case VIRTIO_BLK_T_FLUSH:
        do_flush(r);
        return;
    case VIRTIO_BLK_T_GET_ID:
        frame_writable_data(r);
        do_get_id(r);
        return;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        do_ranges(r);
        return;
    default:
        reject(r, VIRTIO_BLK_S_UNSUPP, "unknown type");
        return;
    }
}
