/* The packed ring, device side, driven by the driver side on real memfd memory
 * and a real call eventfd. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vdev/dirty.h"
#include "vq_fixture.h"

#define DESC_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define DESC_F_USED  (1u << VRING_PACKED_DESC_F_USED)

static struct vring_packed_desc_event *driver_event(struct fx *f, unsigned qi)
{
    return fx_host(f, f->q[qi].driver_gpa);
}

static struct vring_packed_desc_event *device_event(struct fx *f, unsigned qi)
{
    return fx_host(f, f->q[qi].device_gpa);
}

static void test_packed_roundtrip(void **state)
{
    struct fx *f = fx_new(8, true, false, false);
    uint16_t id, got_id;
    uint32_t len;

    fx_start(f, 0);
    id = fx_add(f, 0, 1, 1, 64, false);
    memset(fx_host(f, fx_buf(f, 0)), 0xab, 64);
    assert_true(vdev_vqd_kick_prepare(f->q[0].drv));

    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.id, id);
    assert_int_equal(f->req.ndesc, 2);
    assert_int_equal(f->req.n_out, 1);
    assert_int_equal(f->req.n_in, 1);
    assert_int_equal(((uint8_t *)f->iov[0].iov_base)[63], 0xab);
    memset(f->iov[1].iov_base, 0xcd, 64);
    assert_int_equal(fx_pop(f, 0), 0);

    assert_int_equal(vdev_vq_push(f->q[0].vq, &f->req, 64), 0);
    assert_int_equal(vdev_vq_notify(f->q[0].vq), 1);
    assert_int_equal(fx_calls(f, 0), 1);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &got_id, &len), 1);
    assert_int_equal(got_id, id);
    assert_int_equal(len, 64);
    assert_int_equal(((uint8_t *)fx_host(f, fx_buf(f, 1)))[0], 0xcd);
    assert_int_equal(vdev_vqd_free_count(f->q[0].drv), 8);
    fx_free(f);
}

static void check_multi(bool indirect)
{
    struct fx *f = fx_new(16, true, false, true);
    uint16_t id;

    fx_start(f, 0);
    id = fx_add(f, 0, 3, 2, 100, indirect);
    for (unsigned i = 0; i < 5; i++)
        *(uint8_t *)fx_host(f, fx_buf(f, i)) = (uint8_t)(i + 1);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.id, id);
    assert_int_equal(f->req.ndesc, indirect ? 1 : 5);
    assert_int_equal(f->req.n_out, 3);
    assert_int_equal(f->req.n_in, 2);
    assert_int_equal(f->req.out_len, 300);
    assert_int_equal(f->req.in_len, 200);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(f->iov_gpa[i], fx_buf(f, i));
        assert_int_equal(*(uint8_t *)f->iov[i].iov_base, i + 1);
    }
    fx_free(f);
}

static void test_packed_chain(void **state)
{
    check_multi(false);
}

static void test_packed_indirect(void **state)
{
    check_multi(true);
}

/* A batch is published by the first used descriptor's flags, at the flush, and
 * notified once; completions out of order skip each buffer's slots. */
static void test_packed_batch(void **state)
{
    struct fx *f = fx_new(16, true, false, false);
    struct vdev_vq_req reqs[5];
    struct iovec iov[5][3];
    uint64_t gpa[5][3];
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    for (unsigned i = 0; i < 5; i++)
        fx_add(f, 0, 1, i % 3, 8, false);           /* 1, 2, 3, 1, 2 slots */
    for (unsigned i = 0; i < 5; i++) {
        reqs[i] = (struct vdev_vq_req){ .iov = iov[i], .iov_gpa = gpa[i], .iov_cap = 3 };
        assert_int_equal(vdev_vq_pop(f->q[0].vq, &reqs[i]), 1);
    }
    assert_int_equal(vdev_vq_pop(f->q[0].vq, &f->req), 0);
    for (int i = 4; i >= 0; i--)
        assert_int_equal(vdev_vq_push(f->q[0].vq, &reqs[i], reqs[i].in_len), 0);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 0);   /* not yet */

    assert_int_equal(vdev_vq_notify(f->q[0].vq), 1);
    assert_int_equal(fx_calls(f, 0), 1);
    for (int i = 4; i >= 0; i--) {
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
        assert_int_equal(id, reqs[i].id);
        assert_int_equal(len, 8u * (unsigned)(i % 3));
    }
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 0);
    assert_int_equal(vdev_vqd_free_count(f->q[0].drv), 16);
    fx_free(f);
}

/* A used descriptor says whether anything was written (2.8.3). */
static void test_packed_used_write_flag(void **state)
{
    struct fx *f = fx_new(8, true, false, false);
    struct vring_packed_desc *d = fx_packed_desc(f, 0);

    fx_start(f, 0);
    fx_add(f, 0, 1, 0, 8, false);
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 0), 2);
    assert_int_equal(le16toh(d[0].flags) & VRING_DESC_F_WRITE, 0);
    assert_int_equal(le16toh(d[1].flags) & VRING_DESC_F_WRITE, VRING_DESC_F_WRITE);
    assert_int_equal(le32toh(d[1].len), 8);
    assert_int_equal(le16toh(d[0].flags) & (DESC_F_AVAIL | DESC_F_USED),
                     DESC_F_AVAIL | DESC_F_USED);
    fx_free(f);
}

/* Many laps of a ring whose size is not a power of two, with chains that
 * straddle the wrap and indirect buffers. */
static void test_packed_wrap(void **state)
{
    struct fx *f = fx_new(5, true, true, true);
    uint16_t id, got;
    uint32_t len;

    fx_start(f, 0);
    for (unsigned i = 0; i < 20000; i++) {
        f->next_buf = 0;
        id = fx_add(f, 0, 1, i % 3, 4, i % 4 == 0);
        assert_int_equal(fx_serve(f, 0, (uint8_t)i), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &got, &len), 1);
        assert_int_equal(got, id);
        assert_int_equal(len, 4 * (i % 3));
    }
    assert_false(vdev_vq_broken(f->q[0].vq));
    fx_free(f);
}

/* Several requests in flight across the wrap, completed in a shuffled order. */
static void test_packed_out_of_order_wrap(void **state)
{
    struct fx *f = fx_new(7, true, false, false);
    struct vdev_vq_req reqs[3];
    struct iovec iov[3][2];
    uint64_t gpa[3][2];
    uint16_t ids[3], got;
    uint32_t len;

    fx_start(f, 0);
    for (unsigned round = 0; round < 500; round++) {
        for (unsigned i = 0; i < 3; i++) {
            ids[i] = fx_add(f, 0, 1, 1, 4, false);
            reqs[i] = (struct vdev_vq_req){ .iov = iov[i], .iov_gpa = gpa[i], .iov_cap = 2 };
            assert_int_equal(vdev_vq_pop(f->q[0].vq, &reqs[i]), 1);
            assert_int_equal(reqs[i].id, ids[i]);
        }
        for (unsigned k = 0; k < 3; k++) {
            unsigned i = (round + k * 2) % 3;
            assert_int_equal(vdev_vq_push(f->q[0].vq, &reqs[i], 1), 0);
        }
        vdev_vq_flush(f->q[0].vq);
        for (unsigned k = 0; k < 3; k++) {
            assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &got, &len), 1);
            assert_int_equal(got, ids[(round + k * 2) % 3]);
        }
    }
    fx_free(f);
}

/* Driver event suppression: DISABLE and ENABLE. */
static void test_packed_interrupt_flags(void **state)
{
    struct fx *f = fx_new(8, true, false, false);

    fx_start(f, 0);
    assert_false(vdev_vqd_set_interrupts(f->q[0].drv, false));
    assert_int_equal(le16toh(driver_event(f, 0)->flags), VRING_PACKED_EVENT_FLAG_DISABLE);
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 1), 1);
    assert_int_equal(fx_calls(f, 0), 0);

    assert_true(vdev_vqd_set_interrupts(f->q[0].drv, true));
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 1), 1);
    assert_int_equal(fx_calls(f, 0), 1);
    fx_free(f);
}

/* With the event index, RING_EVENT_FLAGS_DESC: a notification when the given
 * slot, in the given lap, is used, and not before. */
static void test_packed_interrupt_desc(void **state)
{
    struct fx *f = fx_new(4, true, true, false);
    struct vring_packed_desc_event *ev = driver_event(f, 0);
    uint64_t calls[6];

    fx_start(f, 0);
    /* slot 1 in the second lap (wrap counter 0): the 6th single-slot buffer */
    ev->off_wrap = htole16(1);
    ev->flags = htole16(VRING_PACKED_EVENT_FLAG_DESC);
    for (int i = 0; i < 6; i++) {
        uint16_t id;
        uint32_t len;

        fx_add(f, 0, 0, 1, 8, false);
        assert_int_equal(fx_serve(f, 0, 1), 1);
        calls[i] = fx_calls(f, 0);
        /* reap, then put back the event the driver library moved */
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
        ev->off_wrap = htole16(1);
        ev->flags = htole16(VRING_PACKED_EVENT_FLAG_DESC);
    }
    for (int i = 0; i < 6; i++)
        assert_int_equal(calls[i], i == 5 ? 1 : 0);
    fx_free(f);
}

/* DESC with the event index not negotiated is not ours to honour: notify. */
static void test_packed_interrupt_desc_without_event_idx(void **state)
{
    struct fx *f = fx_new(4, true, false, false);
    struct vring_packed_desc_event *ev = driver_event(f, 0);

    fx_start(f, 0);
    ev->off_wrap = htole16(3);
    ev->flags = htole16(VRING_PACKED_EVENT_FLAG_DESC);
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 1), 1);
    assert_int_equal(fx_calls(f, 0), 1);
    fx_free(f);
}

/* The driver library with the event index: one call per served batch. */
static void test_packed_event_idx_driver(void **state)
{
    struct fx *f = fx_new(6, true, true, false);
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    assert_false(vdev_vqd_set_interrupts(f->q[0].drv, true));
    for (int round = 0; round < 50; round++) {
        fx_add(f, 0, 1, 1, 8, false);
        fx_add(f, 0, 0, 1, 8, false);
        assert_int_equal(fx_serve(f, 0, 1), 2);
        assert_int_equal(fx_calls(f, 0), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    }
    fx_free(f);
}

/* Device event suppression: the device turns kicks off and on; turning them
 * on reports what came meanwhile. */
static void test_packed_kick_flags(void **state)
{
    struct fx *f = fx_new(8, true, false, false);

    fx_start(f, 0);
    fx_add(f, 0, 0, 1, 8, false);
    assert_true(vdev_vqd_kick_prepare(f->q[0].drv));
    assert_false(vdev_vq_set_notification(f->q[0].vq, false));
    assert_int_equal(le16toh(device_event(f, 0)->flags), VRING_PACKED_EVENT_FLAG_DISABLE);
    fx_add(f, 0, 0, 1, 8, false);
    assert_false(vdev_vqd_kick_prepare(f->q[0].drv));
    assert_true(vdev_vq_set_notification(f->q[0].vq, true));
    assert_int_equal(le16toh(device_event(f, 0)->flags), VRING_PACKED_EVENT_FLAG_ENABLE);
    assert_int_equal(fx_serve(f, 0, 0), 2);
    assert_false(vdev_vq_set_notification(f->q[0].vq, true));
    fx_add(f, 0, 0, 1, 8, false);
    assert_true(vdev_vqd_kick_prepare(f->q[0].drv));
    fx_free(f);
}

/* The base carries both positions and wrap counters (bits 0-15 available,
 * 16-31 used), and a restart resumes there. */
static void test_packed_base_restart(void **state)
{
    struct fx *f = fx_new(4, true, false, false);
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0x80008000u);   /* wrap counters 1 */
    for (int i = 0; i < 5; i++) {
        fx_add(f, 0, 0, 1, 8, false);
        assert_int_equal(fx_serve(f, 0, 0), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    }
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0x00010001u);   /* slot 1, wrap 0 */
    vdev_vq_stop(f->q[0].vq);
    f->q[0].cfg.base = 0x00010001u;
    fx_start(f, 0);
    for (int i = 0; i < 5; i++) {
        fx_add(f, 0, 0, 1, 8, false);
        assert_int_equal(fx_serve(f, 0, 0), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    }
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0x80028002u);
    fx_free(f);
}

static void test_packed_start_checks(void **state)
{
    struct fx *f = fx_new(8, true, false, false);
    struct vdev_vq *vq = f->q[0].vq;
    struct vdev_vq_config c;

    c = f->q[0].cfg; c.size = 0;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.size = 32769;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 0x80008000u | 8;             /* avail slot past the ring */
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 8;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 0x80088000u;                 /* used slot past the ring */
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 0x00088000u;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 0x80028001u;                 /* avail behind used */
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 0x00020001u;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 0x80020003u;                 /* more than a lap ahead */
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 0x00018002u;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.driver_gpa += 2;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.device_gpa += 2;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.desc_gpa += 8;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.desc_gpa = FX_RO_GPA;               /* the device writes it */
    assert_int_equal(vdev_vq_start(vq, &c), -EFAULT);
    c = f->q[0].cfg; c.device_gpa = FX_RO_GPA;
    assert_int_equal(vdev_vq_start(vq, &c), -EFAULT);
    c = f->q[0].cfg; c.driver_gpa = FX_HOLE_GPA;
    assert_int_equal(vdev_vq_start(vq, &c), -EFAULT);
    c = f->q[0].cfg; c.driver_gpa = FX_RO_GPA;             /* read only is enough */
    c.size = 7;                                            /* any size */
    c.base = 0x00060006u;
    assert_int_equal(vdev_vq_start(vq, &c), 0);
    assert_int_equal(vdev_vq_get_base(vq), 0x00060006u);
    vdev_vq_stop(vq);
    c.base = 0x80050001u;                                  /* 3 ahead, across the lap */
    assert_int_equal(vdev_vq_start(vq, &c), 0);
    assert_int_equal(vdev_vq_get_base(vq), 0x80050001u);
    vdev_vq_stop(vq);
    c.base = 0x80030003u;                                  /* a whole lap ahead */
    assert_int_equal(vdev_vq_start(vq, &c), 0);
    assert_int_equal(vdev_vq_get_base(vq), 0x80030003u);
    vdev_vq_stop(vq);
    fx_free(f);
}

static bool page_dirty(struct vdev_dirty *d, uint64_t gpa)
{
    uint8_t bit = 0;
    uint64_t page = gpa & ~(VDEV_DIRTY_PAGE_SIZE - 1);

    assert_int_equal(vdev_dirty_report(d, page, VDEV_DIRTY_PAGE_SIZE,
                                       VDEV_DIRTY_PAGE_SIZE, false, &bit, 1), 0);
    return bit & 1;
}

/* A push records the written bytes and the used descriptor in the dirty log. */
static void test_packed_dirty(void **state)
{
    struct fx *f = fx_new(8, true, false, false);
    struct vdev_dirty_range range = { FX_GPA_BASE, f->mem_size };
    struct vdev_dirty *log;

    fx_start(f, 0);
    fx_add(f, 0, 1, 2, FX_BUF_SIZE, false);    /* buffers 0 (out), 1, 2 (in) */
    fx_add(f, 0, 0, 1, FX_BUF_SIZE, false);    /* buffer 3 (in) */
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(vdev_dirty_new(&range, 1, &log), 0);
    vdev_mem_set_dirty_log(f->mem, log);
    assert_int_equal(vdev_vq_push(f->q[0].vq, &f->req, 10), 0);
    vdev_vq_flush(f->q[0].vq);
    assert_false(page_dirty(log, fx_buf(f, 0)));
    assert_true(page_dirty(log, fx_buf(f, 1)));
    assert_false(page_dirty(log, fx_buf(f, 2)));
    assert_true(page_dirty(log, f->q[0].desc_gpa));

    vdev_vq_stop(f->q[0].vq);
    vdev_mem_set_dirty_log(f->mem, NULL);
    vdev_dirty_free(log);
    fx_free(f);
}

/* Every used descriptor of a batch is logged, not only the one the flush
 * publishes: slots 255 and 256 of a 512-slot ring lie on different pages. */
static void test_packed_dirty_batch(void **state)
{
    struct fx *f = fx_new(512, true, false, false);
    struct vdev_dirty_range range = { FX_GPA_BASE, f->mem_size };
    struct vdev_dirty *log;
    struct vdev_vq_req r[2];
    struct iovec iov[2];
    uint64_t gpa[2];
    uint64_t page1 = f->q[0].desc_gpa + 256 * sizeof(struct vring_packed_desc);
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    for (int i = 0; i < 255; i++) {
        fx_add(f, 0, 0, 1, 8, false);
        assert_int_equal(fx_serve(f, 0, 0), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    }
    fx_add(f, 0, 0, 1, 8, false);
    fx_add(f, 0, 0, 1, 8, false);
    for (int i = 0; i < 2; i++) {
        r[i] = (struct vdev_vq_req){ .iov = &iov[i], .iov_gpa = &gpa[i], .iov_cap = 1 };
        assert_int_equal(vdev_vq_pop(f->q[0].vq, &r[i]), 1);
    }
    assert_int_equal(vdev_dirty_new(&range, 1, &log), 0);
    vdev_mem_set_dirty_log(f->mem, log);
    assert_int_equal(vdev_vq_push(f->q[0].vq, &r[0], 0), 0);
    assert_int_equal(vdev_vq_push(f->q[0].vq, &r[1], 0), 0);
    vdev_vq_flush(f->q[0].vq);
    assert_true(page_dirty(log, f->q[0].desc_gpa));
    assert_true(page_dirty(log, page1));

    vdev_vq_stop(f->q[0].vq);
    vdev_mem_set_dirty_log(f->mem, NULL);
    vdev_dirty_free(log);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_roundtrip),
        cmocka_unit_test(test_packed_chain),
        cmocka_unit_test(test_packed_indirect),
        cmocka_unit_test(test_packed_batch),
        cmocka_unit_test(test_packed_used_write_flag),
        cmocka_unit_test(test_packed_wrap),
        cmocka_unit_test(test_packed_out_of_order_wrap),
        cmocka_unit_test(test_packed_interrupt_flags),
        cmocka_unit_test(test_packed_interrupt_desc),
        cmocka_unit_test(test_packed_interrupt_desc_without_event_idx),
        cmocka_unit_test(test_packed_event_idx_driver),
        cmocka_unit_test(test_packed_kick_flags),
        cmocka_unit_test(test_packed_base_restart),
        cmocka_unit_test(test_packed_start_checks),
        cmocka_unit_test(test_packed_dirty),
        cmocka_unit_test(test_packed_dirty_batch),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
