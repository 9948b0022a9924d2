#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vq_fixture.h"

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Places queue qi's areas from offset off on; returns the offset after them. */
static uint64_t place_queue(struct fx *f, unsigned qi, uint64_t off)
{
    struct fx_queue *q = &f->q[qi];

    off = align_up(off, 4096);
    q->desc_gpa = FX_GPA_BASE + off;
    off += vdev_vq_desc_bytes(f->size, f->packed);
    off = align_up(off, 64);
    q->driver_gpa = FX_GPA_BASE + off;
    off += vdev_vq_driver_bytes(f->size, f->packed);
    off = align_up(off, 64);
    q->device_gpa = FX_GPA_BASE + off;
    off += vdev_vq_device_bytes(f->size, f->packed);
    off = align_up(off, 64);
    q->indirect_gpa = FX_GPA_BASE + off;
    off += (uint64_t)f->size * FX_IND_MAX * sizeof(struct vring_desc);
    return off;
}

static void add_regions(struct fx *f)
{
    struct vdev_mem_region rw = {
        .gpa = FX_GPA_BASE, .size = f->mem_size, .fd = f->memfd, .access = VDEV_MEM_RW,
    };
    struct vdev_mem_region ro = {
        .gpa = FX_RO_GPA, .size = FX_RO_SIZE, .fd = f->ro_fd, .access = VDEV_MEM_READ,
    };

    assert_int_equal(vdev_mem_new(&f->mem), 0);
    assert_int_equal(vdev_mem_add(f->mem, &rw), 0);
    assert_int_equal(vdev_mem_add(f->mem, &ro), 0);
}

static void make_queue(struct fx *f, unsigned qi)
{
    struct fx_queue *q = &f->q[qi];
    struct vdev_vqd_config dc = {
        .size = f->size, .packed = f->packed, .event_idx = f->event_idx,
        .indirect = f->indirect, .desc_gpa = q->desc_gpa, .driver_gpa = q->driver_gpa,
        .device_gpa = q->device_gpa, .indirect_gpa = q->indirect_gpa,
        .indirect_max = f->size < FX_IND_MAX ? f->size : FX_IND_MAX,
        .mem = f->mem, .kick_fd = -1,
    };

    q->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(q->call_fd >= 0);
    assert_int_equal(vdev_vqd_new(&dc, &q->drv), 0);
    assert_int_equal(vdev_vq_new(&q->vq), 0);
    q->cfg = (struct vdev_vq_config){
        .size = f->size, .packed = f->packed, .event_idx = f->event_idx,
        .indirect = f->indirect, .desc_gpa = q->desc_gpa, .driver_gpa = q->driver_gpa,
        .device_gpa = q->device_gpa, .mem = f->mem, .call_fd = q->call_fd,
        .base = f->packed ? 0x80008000u : 0,   /* both wrap counters start at 1 */
    };
}

struct fx *fx_new(uint16_t size, bool packed, bool event_idx, bool indirect)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint64_t off = 0;

    assert_non_null(f);
    f->fds_before = test_count_fds();
    f->size = size;
    f->packed = packed;
    f->event_idx = event_idx;
    f->indirect = indirect;
    for (unsigned qi = 0; qi < FX_QUEUES; qi++)
        off = place_queue(f, qi, off);
    off = align_up(off, 4096);
    f->buf_gpa = FX_GPA_BASE + off;
    f->mem_size = off + (uint64_t)FX_BUFS * FX_BUF_SIZE;

    f->memfd = test_memfd("vq-guest", f->mem_size);
    f->ro_fd = test_memfd("vq-ro", FX_RO_SIZE);
    f->guest = mmap(NULL, f->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
    assert_true(f->guest != MAP_FAILED);
    add_regions(f);
    for (unsigned qi = 0; qi < FX_QUEUES; qi++)
        make_queue(f, qi);

    f->req.iov = f->iov;
    f->req.iov_gpa = f->iov_gpa;
    f->req.iov_cap = FX_IOV;
    return f;
}

void fx_free(struct fx *f)
{
    int before = f->fds_before;

    for (unsigned qi = 0; qi < FX_QUEUES; qi++) {
        vdev_vq_stop(f->q[qi].vq);
        vdev_vq_free(f->q[qi].vq);
        vdev_vqd_free(f->q[qi].drv);
        close(f->q[qi].call_fd);
    }
    vdev_mem_free(f->mem);
    munmap(f->guest, f->mem_size);
    close(f->memfd);
    close(f->ro_fd);
    free(f);
    assert_no_fd_leak(before);
}

void fx_start(struct fx *f, unsigned qi)
{
    assert_int_equal(vdev_vq_start(f->q[qi].vq, &f->q[qi].cfg), 0);
}

void *fx_host(struct fx *f, uint64_t gpa)
{
    assert_true(gpa >= FX_GPA_BASE && gpa - FX_GPA_BASE < f->mem_size);
    return f->guest + (gpa - FX_GPA_BASE);
}

uint64_t fx_buf(struct fx *f, unsigned i)
{
    return f->buf_gpa + (uint64_t)(i % FX_BUFS) * FX_BUF_SIZE;
}

uint64_t fx_next_buf(struct fx *f)
{
    return fx_buf(f, f->next_buf++);
}

uint16_t fx_add(struct fx *f, unsigned qi, unsigned n_out, unsigned n_in, uint32_t len,
                bool indirect)
{
    struct vdev_vqd_buf out[FX_IOV], in[FX_IOV];
    uint16_t id;

    assert_true(n_out <= FX_IOV && n_in <= FX_IOV);
    for (unsigned i = 0; i < n_out; i++)
        out[i] = (struct vdev_vqd_buf){ fx_next_buf(f), len };
    for (unsigned i = 0; i < n_in; i++)
        in[i] = (struct vdev_vqd_buf){ fx_next_buf(f), len };
    assert_int_equal(vdev_vqd_add(f->q[qi].drv, out, n_out, in, n_in, indirect, &id), 0);
    return id;
}

int fx_pop(struct fx *f, unsigned qi)
{
    return vdev_vq_pop(f->q[qi].vq, &f->req);
}

int fx_serve(struct fx *f, unsigned qi, uint8_t fill)
{
    struct vdev_vq *vq = f->q[qi].vq;
    int n = 0, ret;

    while ((ret = vdev_vq_pop(vq, &f->req)) == 1) {
        for (uint32_t i = f->req.n_out; i < f->req.n_out + f->req.n_in; i++)
            memset(f->iov[i].iov_base, fill, f->iov[i].iov_len);
        assert_int_equal(vdev_vq_push(vq, &f->req, f->req.in_len), 0);
        n++;
    }
    if (ret < 0)
        return ret;
    ret = vdev_vq_notify(vq);
    assert_true(ret >= 0);
    return n;
}

uint64_t fx_calls(struct fx *f, unsigned qi)
{
    uint64_t v = 0;

    if (read(f->q[qi].call_fd, &v, sizeof(v)) != sizeof(v)) {
        assert_int_equal(errno, EAGAIN);
        return 0;
    }
    return v;
}

struct vring_desc *fx_split_desc(struct fx *f, unsigned qi)
{
    return fx_host(f, f->q[qi].desc_gpa);
}

struct vring_avail *fx_split_avail(struct fx *f, unsigned qi)
{
    return fx_host(f, f->q[qi].driver_gpa);
}

struct vring_used *fx_split_used(struct fx *f, unsigned qi)
{
    return fx_host(f, f->q[qi].device_gpa);
}

void fx_split_offer(struct fx *f, unsigned qi, uint16_t head)
{
    struct vring_avail *a = fx_split_avail(f, qi);
    uint16_t idx = le16toh(a->idx);

    a->ring[idx & (f->size - 1)] = htole16(head);
    __atomic_store_n(&a->idx, htole16((uint16_t)(idx + 1)), __ATOMIC_RELEASE);
}

void fx_split_set_desc(struct fx *f, unsigned qi, uint16_t i, uint64_t addr,
                       uint32_t len, uint16_t flags, uint16_t next)
{
    struct vring_desc *d = &fx_split_desc(f, qi)[i];

    d->addr = htole64(addr);
    d->len = htole32(len);
    d->flags = htole16(flags);
    d->next = htole16(next);
}

struct vring_packed_desc *fx_packed_desc(struct fx *f, unsigned qi)
{
    return fx_host(f, f->q[qi].desc_gpa);
}

void fx_packed_put(struct fx *f, unsigned qi, uint16_t pos, uint64_t addr, uint32_t len,
                   uint16_t id, uint16_t flags, bool wrap)
{
    struct vring_packed_desc *d = &fx_packed_desc(f, qi)[pos];
    uint16_t bits = wrap ? (1u << VRING_PACKED_DESC_F_AVAIL)
                         : (1u << VRING_PACKED_DESC_F_USED);

    d->addr = htole64(addr);
    d->len = htole32(len);
    d->id = htole16(id);
    __atomic_store_n(&d->flags, htole16((uint16_t)(flags | bits)), __ATOMIC_RELEASE);
}
