/* The driver side: its checks, its bookkeeping, what it makes of a device that
 * returns garbage, its kick decisions; and a long randomized run of driver
 * against device, both layouts. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vq_fixture.h"

#define DESC_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define DESC_F_USED  (1u << VRING_PACKED_DESC_F_USED)

static struct vdev_vqd_config drv_config(struct fx *f, unsigned qi)
{
    return (struct vdev_vqd_config){
        .size = f->size, .packed = f->packed, .event_idx = f->event_idx,
        .indirect = f->indirect, .desc_gpa = f->q[qi].desc_gpa,
        .driver_gpa = f->q[qi].driver_gpa, .device_gpa = f->q[qi].device_gpa,
        .indirect_gpa = f->q[qi].indirect_gpa, .indirect_max = 4, .mem = f->mem,
        .kick_fd = -1,
    };
}

static void check_new(bool packed)
{
    struct fx *f = fx_new(8, packed, false, true);
    struct vdev_vqd *d;
    struct vdev_vqd_config c;

    c = drv_config(f, 0); c.size = 0;
    assert_int_equal(vdev_vqd_new(&c, &d), -EINVAL);
    c = drv_config(f, 0); c.size = 32769;
    assert_int_equal(vdev_vqd_new(&c, &d), -EINVAL);
    c = drv_config(f, 0); c.size = 6;
    assert_int_equal(vdev_vqd_new(&c, &d), packed ? 0 : -EINVAL);
    if (packed)
        vdev_vqd_free(d);
    c = drv_config(f, 0); c.desc_gpa += 8;
    assert_int_equal(vdev_vqd_new(&c, &d), -EINVAL);
    c = drv_config(f, 0); c.device_gpa += 2;
    assert_int_equal(vdev_vqd_new(&c, &d), -EINVAL);
    c = drv_config(f, 0); c.indirect_max = 0;
    assert_int_equal(vdev_vqd_new(&c, &d), -EINVAL);
    c = drv_config(f, 0); c.indirect_max = 9;
    assert_int_equal(vdev_vqd_new(&c, &d), -EINVAL);
    c = drv_config(f, 0); c.mem = NULL;
    assert_int_equal(vdev_vqd_new(&c, &d), -EINVAL);
    c = drv_config(f, 0); c.desc_gpa = FX_HOLE_GPA;
    assert_int_equal(vdev_vqd_new(&c, &d), -EFAULT);
    c = drv_config(f, 0); c.driver_gpa = FX_RO_GPA;       /* the driver writes it */
    assert_int_equal(vdev_vqd_new(&c, &d), -EFAULT);
    c = drv_config(f, 0); c.indirect_gpa = FX_GPA_BASE + f->mem_size - 16;
    assert_int_equal(vdev_vqd_new(&c, &d), -EFAULT);
    fx_free(f);
}

static void test_driver_new_split(void **state)
{
    check_new(false);
}

static void test_driver_new_packed(void **state)
{
    check_new(true);
}

/* Descriptors (or slots) run out and come back; an indirect request takes one. */
static void check_full(bool packed)
{
    struct fx *f = fx_new(4, packed, false, true);
    struct vdev_vqd *d = f->q[0].drv;
    struct vdev_vqd_buf b[4] = { { fx_buf(f, 0), 8 }, { fx_buf(f, 1), 8 },
                                 { fx_buf(f, 2), 8 }, { fx_buf(f, 3), 8 } };
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    assert_int_equal(vdev_vqd_add(d, b, 0, b, 0, false, &id), -EINVAL);
    assert_int_equal(vdev_vqd_add(d, b, 3, b, 0, false, &id), 0);
    assert_int_equal(vdev_vqd_free_count(d), 1);
    assert_int_equal(vdev_vqd_add(d, b, 1, b, 1, false, &id), -ENOSPC);
    assert_int_equal(vdev_vqd_add(d, b, 2, b + 2, 2, true, &id), 0);   /* 4 in 1 */
    assert_int_equal(vdev_vqd_free_count(d), 0);
    assert_int_equal(vdev_vqd_add(d, b, 1, b, 0, true, &id), -ENOSPC);

    assert_int_equal(fx_serve(f, 0, 0), 2);
    assert_int_equal(vdev_vqd_get_used(d, &id, &len), 1);
    assert_int_equal(vdev_vqd_get_used(d, &id, &len), 1);
    assert_int_equal(len, 16);
    assert_int_equal(vdev_vqd_free_count(d), 4);
    assert_int_equal(vdev_vqd_add(d, b, 4, b, 0, false, &id), 0);
    fx_free(f);
}

static void test_driver_full_split(void **state)
{
    check_full(false);
}

static void test_driver_full_packed(void **state)
{
    check_full(true);
}

static void test_driver_indirect_limits(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    struct fx *g = fx_new(8, true, false, true);
    struct vdev_vqd_buf b[17] = { { 0 } };
    uint16_t id;

    for (int i = 0; i < 17; i++)
        b[i] = (struct vdev_vqd_buf){ fx_buf(g, (unsigned)i), 8 };
    /* no indirect area configured */
    assert_int_equal(vdev_vqd_add(f->q[0].drv, b, 1, b, 0, true, &id), -EINVAL);
    /* more than indirect_max (8: the ring size) entries */
    assert_int_equal(vdev_vqd_add(g->q[0].drv, b, 9, b, 0, true, &id), -EINVAL);
    assert_int_equal(vdev_vqd_add(g->q[0].drv, b, 8, b, 0, true, &id), 0);
    fx_free(g);
    fx_free(f);
}

/* A device that returns ids it was not given, or runs the used index ahead,
 * gets -EPROTO, not a crash or a corrupted free list. */
static void test_driver_split_bad_used(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    struct vring_used *used = fx_split_used(f, 0);
    uint16_t id;
    uint32_t len;

    fx_add(f, 0, 1, 0, 8, false);                          /* head 0 */
    used->ring[0].id = htole32(5);                          /* not outstanding */
    used->idx = htole16(1);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), -EPROTO);
    used->ring[0].id = htole32(0x10000);                    /* past the ring */
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), -EPROTO);
    used->ring[0].id = htole32(0);
    used->idx = htole16(9);                                 /* ran ahead */
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), -EPROTO);
    used->idx = htole16(1);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    assert_int_equal(id, 0);
    assert_int_equal(vdev_vqd_free_count(f->q[0].drv), 8);
    fx_free(f);
}

static void test_driver_packed_bad_used(void **state)
{
    struct fx *f = fx_new(8, true, false, false);
    struct vring_packed_desc *d = fx_packed_desc(f, 0);
    uint16_t id;
    uint32_t len;

    fx_add(f, 0, 1, 0, 8, false);                          /* buffer id 0 */
    d[0].id = htole16(3);
    d[0].flags = htole16(DESC_F_AVAIL | DESC_F_USED);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), -EPROTO);
    d[0].id = htole16(8);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), -EPROTO);
    d[0].id = htole16(0);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    assert_int_equal(len, 0);                               /* no WRITE flag */
    fx_free(f);
}

/* The kick eventfd is written when the device wants kicks, not otherwise. */
static void check_kick_fd(bool packed)
{
    struct fx *f = fx_new(8, packed, false, false);
    struct vdev_vqd_config c = drv_config(f, 0);
    struct vdev_vqd *d;
    uint64_t v = 0;
    int kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    c.indirect = false;
    c.kick_fd = kick;
    assert_int_equal(vdev_vqd_new(&c, &d), 0);
    vdev_vqd_free(f->q[0].drv);
    f->q[0].drv = d;
    fx_start(f, 0);

    fx_add(f, 0, 1, 0, 8, false);
    fx_add(f, 0, 1, 0, 8, false);
    assert_int_equal(vdev_vqd_kick(d), 1);
    assert_int_equal(vdev_vqd_kick(d), 0);                  /* nothing new */
    assert_int_equal(read(kick, &v, sizeof(v)), sizeof(v));
    assert_int_equal(v, 1);
    vdev_vq_set_notification(f->q[0].vq, false);
    fx_add(f, 0, 1, 0, 8, false);
    assert_int_equal(vdev_vqd_kick(d), 0);
    assert_int_equal(read(kick, &v, sizeof(v)), -1);
    close(kick);
    fx_free(f);
}

static void test_driver_kick_fd_split(void **state)
{
    check_kick_fd(false);
}

static void test_driver_kick_fd_packed(void **state)
{
    check_kick_fd(true);
}

/* avail_event: a kick when the available index passes it, only then. */
static void test_driver_split_avail_event(void **state)
{
    struct fx *f = fx_new(8, false, true, false);
    void *ae = &fx_split_used(f, 0)->ring[8];
    uint16_t v = htole16(2);
    bool kicks[4];

    memcpy(ae, &v, sizeof(v));
    for (int i = 0; i < 4; i++) {
        fx_add(f, 0, 1, 0, 8, false);
        kicks[i] = vdev_vqd_kick_prepare(f->q[0].drv);
    }
    assert_false(kicks[0]);
    assert_false(kicks[1]);
    assert_true(kicks[2]);
    assert_false(kicks[3]);
    fx_free(f);
}

/* Packed device event with RING_EVENT_FLAGS_DESC: a kick when the slot in the
 * given lap is made available, also when a batch jumps over it. */
static void test_driver_packed_kick_desc(void **state)
{
    struct fx *f = fx_new(4, true, true, false);
    struct vring_packed_desc_event *ev = fx_host(f, f->q[0].device_gpa);
    struct vdev_vqd *d = f->q[0].drv;
    uint16_t id;
    uint32_t len;

    ev->off_wrap = htole16(0x8000 | 2);          /* slot 2, first lap */
    ev->flags = htole16(VRING_PACKED_EVENT_FLAG_DESC);
    fx_add(f, 0, 1, 0, 8, false);                /* slot 0 */
    assert_false(vdev_vqd_kick_prepare(d));
    fx_add(f, 0, 1, 0, 8, false);                /* slot 1 */
    assert_false(vdev_vqd_kick_prepare(d));
    fx_add(f, 0, 2, 0, 8, false);                /* slots 2, 3 */
    assert_true(vdev_vqd_kick_prepare(d));

    fx_start(f, 0);
    vdev_vq_set_notification(f->q[0].vq, false);     /* leave the event to us */
    assert_int_equal(fx_serve(f, 0, 0), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(vdev_vqd_get_used(d, &id, &len), 1);
    ev->off_wrap = htole16(1);                   /* slot 1, second lap */
    ev->flags = htole16(VRING_PACKED_EVENT_FLAG_DESC);
    fx_add(f, 0, 1, 0, 8, false);                /* slot 0 */
    assert_false(vdev_vqd_kick_prepare(d));
    fx_add(f, 0, 1, 0, 8, false);                /* slot 1 */
    fx_add(f, 0, 1, 0, 8, false);                /* slot 2 */
    assert_true(vdev_vqd_kick_prepare(d));
    fx_free(f);
}

/* --- randomized: driver against device ------------------------------------ */

#define HELD_MAX 32

struct run {
    struct fx *f;
    struct vdev_vqd *d;
    struct vdev_vq *vq;
    uint32_t seed;
    bool busy[FX_BUFS];          /* by id: handed to the device */
    uint32_t in_len[FX_BUFS];    /* by id: writable bytes */
    struct vdev_vq_req held[HELD_MAX];   /* popped, not yet pushed */
    struct iovec iov[HELD_MAX][8];
    uint64_t gpa[HELD_MAX][8];
    unsigned n_held;
    unsigned done;
};

static uint32_t rnd(struct run *r)
{
    r->seed = r->seed * 1103515245u + 12345u;
    return (r->seed >> 16) & 0x7fff;
}

/* The driver adds up to 3 requests of random shapes, some indirect. */
static void driver_add_some(struct run *r)
{
    for (unsigned k = rnd(r) % 4; k > 0; k--) {
        unsigned n_out = rnd(r) % 3, n_in = 1 + rnd(r) % 3;
        bool ind = rnd(r) % 3 == 0;
        struct vdev_vqd_buf out[3], in[3];
        uint32_t in_len = 0;
        uint16_t id;
        int ret;

        for (unsigned i = 0; i < n_out; i++)
            out[i] = (struct vdev_vqd_buf){ fx_next_buf(r->f), 1 + rnd(r) % 64 };
        for (unsigned i = 0; i < n_in; i++) {
            in[i] = (struct vdev_vqd_buf){ fx_next_buf(r->f), 1 + rnd(r) % 64 };
            in_len += in[i].len;
        }
        ret = vdev_vqd_add(r->d, out, n_out, in, n_in, ind, &id);
        if (ret == -ENOSPC)
            return;
        assert_int_equal(ret, 0);
        assert_false(r->busy[id]);
        r->busy[id] = true;
        r->in_len[id] = in_len;
    }
}

/* The device pops a few and holds them. */
static void device_pop_some(struct run *r)
{
    while (r->n_held < HELD_MAX && rnd(r) % 4 != 0) {
        struct vdev_vq_req *q = &r->held[r->n_held];
        int ret;

        *q = (struct vdev_vq_req){ .iov = r->iov[r->n_held], .iov_gpa = r->gpa[r->n_held],
                                   .iov_cap = 8 };
        ret = vdev_vq_pop(r->vq, q);
        assert_true(ret >= 0);
        if (ret == 0)
            return;
        assert_true(r->busy[q->id]);
        assert_int_equal(q->in_len, r->in_len[q->id]);
        r->n_held++;
    }
}

/* The device completes some of what it holds, in random order, and notifies. */
static void device_push_some(struct run *r)
{
    for (unsigned k = r->n_held ? rnd(r) % (r->n_held + 1) : 0; k > 0; k--) {
        unsigned pick = rnd(r) % r->n_held, last = --r->n_held;
        struct vdev_vq_req *q = &r->held[pick];

        memset(q->iov[q->n_out].iov_base, 0xee, 1);
        assert_int_equal(vdev_vq_push(r->vq, q, q->in_len), 0);
        if (pick != last) {        /* the last one moves in, with its arrays */
            r->held[pick] = r->held[last];
            memcpy(r->iov[pick], r->iov[last], sizeof(r->iov[pick]));
            memcpy(r->gpa[pick], r->gpa[last], sizeof(r->gpa[pick]));
            r->held[pick].iov = r->iov[pick];
            r->held[pick].iov_gpa = r->gpa[pick];
        }
    }
    assert_true(vdev_vq_notify(r->vq) >= 0);
    fx_calls(r->f, 0);
}

/* The driver reaps: every id comes back once, with its writable length. */
static void driver_reap(struct run *r)
{
    uint16_t id;
    uint32_t len;
    int ret;

    while ((ret = vdev_vqd_get_used(r->d, &id, &len)) == 1) {
        assert_true(r->busy[id]);
        assert_int_equal(len, r->in_len[id]);
        r->busy[id] = false;
        r->done++;
    }
    assert_int_equal(ret, 0);
}

static void check_random(bool packed, bool event_idx, uint16_t size)
{
    struct run *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->f = fx_new(size, packed, event_idx, true);
    r->d = r->f->q[0].drv;
    r->vq = r->f->q[0].vq;
    r->seed = 1234u + size + packed;
    fx_start(r->f, 0);
    while (r->done < 20000) {
        driver_add_some(r);
        vdev_vqd_kick_prepare(r->d);
        device_pop_some(r);
        device_push_some(r);
        driver_reap(r);
    }
    assert_false(vdev_vq_broken(r->vq));
    fx_free(r->f);
    free(r);
}

static void test_driver_random_split(void **state)
{
    check_random(false, false, 16);
    check_random(false, true, 64);
}

static void test_driver_random_packed(void **state)
{
    check_random(true, false, 16);
    check_random(true, true, 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_driver_new_split),
        cmocka_unit_test(test_driver_new_packed),
        cmocka_unit_test(test_driver_full_split),
        cmocka_unit_test(test_driver_full_packed),
        cmocka_unit_test(test_driver_indirect_limits),
        cmocka_unit_test(test_driver_split_bad_used),
        cmocka_unit_test(test_driver_packed_bad_used),
        cmocka_unit_test(test_driver_kick_fd_split),
        cmocka_unit_test(test_driver_kick_fd_packed),
        cmocka_unit_test(test_driver_split_avail_event),
        cmocka_unit_test(test_driver_packed_kick_desc),
        cmocka_unit_test(test_driver_random_split),
        cmocka_unit_test(test_driver_random_packed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
