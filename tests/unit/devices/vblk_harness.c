#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vblk_harness.h"

#define RING_BITS ((1ull << VIRTIO_RING_F_EVENT_IDX) | \
                   (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_F_RING_PACKED))

uint8_t vh_pattern(uint64_t off)
{
    return (uint8_t)(off * 7 + off / 4096 + 1);
}

static void make_image(struct vh *h, uint64_t size)
{
    uint8_t buf[4096];
    int fd;

    snprintf(h->dir, sizeof(h->dir), "/var/tmp/vdev-vblk-XXXXXX");
    if (!mkdtemp(h->dir)) {
        snprintf(h->dir, sizeof(h->dir), "/tmp/vdev-vblk-XXXXXX");
        assert_non_null(mkdtemp(h->dir));
    }
    snprintf(h->path, sizeof(h->path), "%s/disk.img", h->dir);
    fd = open(h->path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    for (uint64_t off = 0; off < size; off += sizeof(buf)) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = vh_pattern(off + i);
        assert_int_equal(pwrite(fd, buf, sizeof(buf), (off_t)off), (ssize_t)sizeof(buf));
    }
    close(fd);
}

static void make_device(struct vh *h, const struct vh_opts *o)
{
    char spec[1024];
    struct vdev_virtio_blk_config c = {
        .backend = o->spec, .blk = o->blk, .num_queues = o->num_queues,
        .queue_size = o->queue_size, .serial = o->serial, .read_only = o->read_only,
        .writethrough = o->writethrough, .seg_max = o->seg_max,
    };
    uint64_t ring = 0;

    if (!o->spec && !o->blk) {
        make_image(h, o->image_size ? o->image_size : 1u << 20);
        snprintf(spec, sizeof(spec), "file:path=%s", h->path);
        c.backend = spec;
    }
    assert_int_equal(vdev_virtio_blk_new(&c, &h->dev), 0);
    h->ops = h->dev->ops;
    if (o->event_idx)
        ring |= 1ull << VIRTIO_RING_F_EVENT_IDX;
    if (o->indirect)
        ring |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
    if (o->packed)
        ring |= 1ull << VIRTIO_F_RING_PACKED;
    h->features = (h->ops->features(h->dev->priv) & ~RING_BITS & ~o->clear_features) |
                  ring | (1ull << VIRTIO_F_VERSION_1);
    assert_int_equal(h->ops->set_features(h->dev->priv, h->features), 0);
}

struct vh *vh_new(const struct vh_opts *o)
{
    struct vh *h = calloc(1, sizeof(*h));
    unsigned nq = o->num_queues ? o->num_queues : 1;

    assert_non_null(h);
    h->fds_before = test_count_fds();
    h->fx = fx_new(o->ring ? o->ring : 64, o->packed, o->event_idx, o->indirect);
    assert_int_equal(vdev_loop_new(&h->loop), 0);
    make_device(h, o);
    for (unsigned qi = 0; qi < FX_QUEUES; qi++)
        h->q[qi] = (struct vdev_virtio_queue){
            .index = qi, .vq = h->fx->q[qi].vq, .mem = h->fx->mem, .loop = h->loop,
        };
    for (unsigned qi = 0; qi < nq && qi < FX_QUEUES && !o->no_start; qi++)
        vh_start(h, qi);
    return h;
}

void vh_start(struct vh *h, unsigned qi)
{
    fx_start(h->fx, qi);
    assert_int_equal(h->ops->queue_start(h->dev->priv, &h->q[qi]), 0);
    h->started[qi] = true;
}

void vh_ring_stop(struct vh *h, unsigned qi)
{
    vdev_vq_stop(h->fx->q[qi].vq);
    h->fx->q[qi].cfg.base = vdev_vq_get_base(h->fx->q[qi].vq);
    h->started[qi] = false;
}

void vh_stop(struct vh *h, unsigned qi)
{
    h->ops->queue_stop(h->dev->priv, &h->q[qi]);
    vh_ring_stop(h, qi);
}

void vh_free(struct vh *h)
{
    int before = h->fds_before;

    for (unsigned qi = 0; qi < FX_QUEUES; qi++)
        if (h->started[qi])
            vh_stop(h, qi);
    vdev_virtio_blk_free(h->dev);
    vdev_loop_free(h->loop);
    fx_free(h->fx);
    if (h->path[0]) {
        unlink(h->path);
        rmdir(h->dir);
    }
    free(h);
    assert_no_fd_leak(before);
}

void vh_pread(struct vh *h, void *buf, uint64_t len, uint64_t off)
{
    int fd = open(h->path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

void vh_check_image(struct vh *h, uint64_t off, uint64_t len, bool zero)
{
    uint8_t *buf = malloc(len);

    assert_non_null(buf);
    vh_pread(h, buf, len, off);
    for (uint64_t i = 0; i < len; i++) {
        uint8_t want = zero ? 0 : vh_pattern(off + i);

        if (buf[i] != want)
            fail_msg("image byte %llu is %#x, not %#x", (unsigned long long)(off + i),
                     buf[i], want);
    }
    free(buf);
}

uint64_t vh_alloc(struct vh *h, uint32_t len)
{
    uint64_t align = len >= FX_BUF_SIZE ? FX_BUF_SIZE : 64;
    uint64_t off = (h->next_byte + align - 1) & ~(align - 1);
    uint64_t gpa = fx_buf(h->fx, 0) + off;

    assert_true(off + len <= (uint64_t)FX_BUFS * FX_BUF_SIZE);
    h->next_byte = off + (len ? len : 1);
    memset(fx_host(h->fx, gpa), 0, len);
    return gpa;
}

void *vh_host(struct vh *h, uint64_t gpa)
{
    return fx_host(h->fx, gpa);
}

uint64_t vh_hdr(struct vh *h, uint32_t type, uint64_t sector)
{
    uint64_t gpa = vh_alloc(h, sizeof(struct virtio_blk_outhdr));
    struct virtio_blk_outhdr hdr = {
        .type = htole32(type), .ioprio = 0, .sector = htole64(sector),
    };

    memcpy(vh_host(h, gpa), &hdr, sizeof(hdr));
    return gpa;
}

uint16_t vh_add(struct vh *h, unsigned qi, const struct vdev_vqd_buf *out, unsigned n_out,
                const struct vdev_vqd_buf *in, unsigned n_in)
{
    uint16_t id;

    assert_int_equal(vdev_vqd_add(h->fx->q[qi].drv, out, n_out, in, n_in, h->fx->indirect,
                                  &id), 0);
    assert_true(id < VH_IDS);
    vdev_vqd_kick_prepare(h->fx->q[qi].drv);
    return id;
}

void vh_kick(struct vh *h, unsigned qi)
{
    h->ops->queue_kick(h->dev->priv, &h->q[qi]);
}

bool vh_used(struct vh *h, unsigned qi, uint16_t id)
{
    uint16_t got;
    uint32_t len;
    int ret;

    while ((ret = vdev_vqd_get_used(h->fx->q[qi].drv, &got, &len)) == 1) {
        assert_true(got < VH_IDS);
        assert_false(h->done[qi][got]);
        h->done[qi][got] = true;
        h->used_len[qi][got] = len;
        assert_true(h->norder[qi] < 4096);
        h->order[qi][h->norder[qi]++] = got;
    }
    assert_int_equal(ret, 0);
    return h->done[qi][id];
}

bool vh_take(struct vh *h, unsigned qi, uint16_t id)
{
    if (!vh_used(h, qi, id))
        return false;
    h->done[qi][id] = false;
    return true;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vh_run(struct vh *h, int ms)
{
    assert_true(vdev_loop_run_once(h->loop, ms) >= 0);
}

uint32_t vh_wait(struct vh *h, unsigned qi, uint16_t id)
{
    double end = now_s() + 10;

    while (!vh_used(h, qi, id)) {
        assert_true(now_s() < end);
        vh_run(h, 100);
    }
    h->done[qi][id] = false;
    return h->used_len[qi][id];
}

uint8_t vh_io(struct vh *h, unsigned qi, uint32_t type, uint64_t sector,
              uint64_t data_gpa, uint32_t len, bool data_in, uint32_t *used)
{
    uint64_t st = vh_alloc(h, 1);
    struct vdev_vqd_buf out[2] = { { vh_hdr(h, type, sector), 16 }, { data_gpa, len } };
    struct vdev_vqd_buf in[2] = { { data_gpa, len }, { st, 1 } };
    unsigned n_out = 1, n_in = 1;
    uint16_t id;
    uint32_t u;

    *(uint8_t *)vh_host(h, st) = 0xff;
    if (len > 0 && data_in)
        n_in = 2;
    else if (len > 0)
        n_out = 2;
    id = vh_add(h, qi, out, n_out, data_in && len ? in : &in[1], n_in);
    vh_kick(h, qi);
    u = vh_wait(h, qi, id);
    if (used)
        *used = u;
    return *(uint8_t *)vh_host(h, st);
}

void vh_write(struct vh *h, unsigned qi, uint64_t sector, const void *src, uint32_t len)
{
    uint64_t gpa = vh_alloc(h, len);
    uint32_t used;

    memcpy(vh_host(h, gpa), src, len);
    assert_int_equal(vh_io(h, qi, VIRTIO_BLK_T_OUT, sector, gpa, len, false, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
}

void vh_read(struct vh *h, unsigned qi, uint64_t sector, void *dst, uint32_t len)
{
    uint64_t gpa = vh_alloc(h, len);
    uint32_t used;

    memset(vh_host(h, gpa), 0xee, len);
    assert_int_equal(vh_io(h, qi, VIRTIO_BLK_T_IN, sector, gpa, len, true, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, len + 1);
    memcpy(dst, vh_host(h, gpa), len);
}

struct virtio_blk_discard_write_zeroes vh_range(uint64_t sector, uint32_t n, uint32_t flags)
{
    return (struct virtio_blk_discard_write_zeroes){
        .sector = htole64(sector), .num_sectors = htole32(n), .flags = htole32(flags),
    };
}

uint8_t vh_ranges(struct vh *h, unsigned qi, uint32_t type,
                  const struct virtio_blk_discard_write_zeroes *r, unsigned n)
{
    uint32_t len = n * (uint32_t)sizeof(*r);
    uint64_t gpa = vh_alloc(h, len);
    uint32_t used;
    uint8_t status;

    memcpy(vh_host(h, gpa), r, len);
    status = vh_io(h, qi, type, 0, gpa, len, false, &used);
    assert_int_equal(used, 1);
    return status;
}

struct virtio_blk_config vh_config(struct vh *h)
{
    struct virtio_blk_config c;

    assert_int_equal(h->ops->config_size, sizeof(c));
    assert_int_equal(h->ops->get_config(h->dev->priv, 0, &c, sizeof(c)), 0);
    return c;
}
