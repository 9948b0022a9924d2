/* The split ring, device side, driven by the driver side on real memfd memory
 * and a real call eventfd. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev/dirty.h"
#include "vq_fixture.h"

/* A request goes out and comes back: the device reads what the guest wrote,
 * the guest reads what the device wrote, one notification. */
static void test_split_roundtrip(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    uint16_t id, got_id;
    uint32_t len;

    fx_start(f, 0);
    id = fx_add(f, 0, 1, 1, 64, false);
    memset(fx_host(f, fx_buf(f, 0)), 0xab, 64);
    assert_true(vdev_vqd_kick_prepare(f->q[0].drv));

    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.id, id);
    assert_int_equal(f->req.n_out, 1);
    assert_int_equal(f->req.n_in, 1);
    assert_int_equal(f->req.out_len, 64);
    assert_int_equal(f->req.in_len, 64);
    assert_int_equal(f->iov_gpa[0], fx_buf(f, 0));
    assert_int_equal(f->iov_gpa[1], fx_buf(f, 1));
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
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &got_id, &len), 0);
    assert_int_equal(vdev_vqd_free_count(f->q[0].drv), 8);
    fx_free(f);
}

/* Readable buffers come first in the iovecs, writable after, with their
 * guest addresses, whether chained or in an indirect table. */
static void check_multi(bool indirect)
{
    struct fx *f = fx_new(16, false, false, true);
    uint16_t id;

    fx_start(f, 0);
    id = fx_add(f, 0, 3, 2, 100, indirect);
    for (unsigned i = 0; i < 5; i++)
        *(uint8_t *)fx_host(f, fx_buf(f, i)) = (uint8_t)(i + 1);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.id, id);
    assert_int_equal(f->req.n_out, 3);
    assert_int_equal(f->req.n_in, 2);
    assert_int_equal(f->req.out_len, 300);
    assert_int_equal(f->req.in_len, 200);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(f->iov[i].iov_len, 100);
        assert_int_equal(f->iov_gpa[i], fx_buf(f, i));
        assert_int_equal(*(uint8_t *)f->iov[i].iov_base, i + 1);
    }
    assert_int_equal(vdev_vqd_free_count(f->q[0].drv), indirect ? 15 : 11);
    fx_free(f);
}

static void test_split_chain(void **state)
{
    check_multi(false);
}

static void test_split_indirect(void **state)
{
    check_multi(true);
}

/* 2.7.5.3.2: direct descriptors followed by one indirect descriptor is valid. */
static void test_split_chain_then_indirect(void **state)
{
    struct fx *f = fx_new(8, false, false, true);
    uint64_t table = fx_buf(f, 10);
    struct vring_desc *t = fx_host(f, table);

    fx_start(f, 0);
    t[0] = (struct vring_desc){ htole64(fx_buf(f, 1)), htole32(32),
                                htole16(VRING_DESC_F_NEXT), htole16(1) };
    t[1] = (struct vring_desc){ htole64(fx_buf(f, 2)), htole32(48),
                                htole16(VRING_DESC_F_WRITE), 0 };
    fx_split_set_desc(f, 0, 0, fx_buf(f, 0), 16, VRING_DESC_F_NEXT, 5);
    fx_split_set_desc(f, 0, 5, table, 32, VRING_DESC_F_INDIRECT, 0);
    fx_split_offer(f, 0, 0);

    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.id, 0);
    assert_int_equal(f->req.n_out, 2);
    assert_int_equal(f->req.n_in, 1);
    assert_int_equal(f->req.out_len, 48);
    assert_int_equal(f->req.in_len, 48);
    assert_int_equal(f->iov_gpa[1], fx_buf(f, 1));
    assert_int_equal(f->iov_gpa[2], fx_buf(f, 2));
    fx_free(f);
}

/* Many pops and pushes, one used index store and one notification. */
static void test_split_batch(void **state)
{
    struct fx *f = fx_new(16, false, false, false);
    struct vdev_vq_req reqs[8];
    struct iovec iov[8][2];
    uint64_t gpa[8][2];
    struct vring_used *used = fx_split_used(f, 0);
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    for (int i = 0; i < 8; i++)
        fx_add(f, 0, 1, 1, 8, false);
    for (int i = 0; i < 8; i++) {
        reqs[i] = (struct vdev_vq_req){ .iov = iov[i], .iov_gpa = gpa[i], .iov_cap = 2 };
        assert_int_equal(vdev_vq_pop(f->q[0].vq, &reqs[i]), 1);
    }
    assert_int_equal(vdev_vq_pop(f->q[0].vq, &f->req), 0);
    for (int i = 7; i >= 0; i--)     /* out of order */
        assert_int_equal(vdev_vq_push(f->q[0].vq, &reqs[i], (uint32_t)i), 0);
    assert_int_equal(le16toh(used->idx), 0);          /* not yet published */
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 0);

    assert_int_equal(vdev_vq_notify(f->q[0].vq), 1);
    assert_int_equal(le16toh(used->idx), 8);
    assert_int_equal(fx_calls(f, 0), 1);
    for (int i = 7; i >= 0; i--) {
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
        assert_int_equal(id, reqs[i].id);
        assert_int_equal(len, (uint32_t)i);
    }
    assert_int_equal(vdev_vq_notify(f->q[0].vq), 0);  /* nothing new */
    assert_int_equal(fx_calls(f, 0), 0);
    fx_free(f);
}

static void count_notify(void *opaque)
{
    (*(unsigned *)opaque)++;
}

/* A notify function delivers used buffer notifications in place of the call
 * eventfd, under the same suppression rules. */
static void test_split_notify_fn(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    unsigned calls = 0;

    f->q[0].cfg.notify = count_notify;
    f->q[0].cfg.notify_opaque = &calls;
    fx_start(f, 0);
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 1), 1);
    assert_int_equal(calls, 1);
    assert_int_equal(fx_calls(f, 0), 0);          /* not the eventfd */
    assert_false(vdev_vqd_set_interrupts(f->q[0].drv, false));
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 1), 1);
    assert_int_equal(calls, 1);
    fx_free(f);
}

/* Without the event index, VRING_AVAIL_F_NO_INTERRUPT turns notifications off. */
static void test_split_no_interrupt_flag(void **state)
{
    struct fx *f = fx_new(8, false, false, false);

    fx_start(f, 0);
    assert_false(vdev_vqd_set_interrupts(f->q[0].drv, false));
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 1), 1);
    assert_int_equal(fx_calls(f, 0), 0);

    assert_true(vdev_vqd_set_interrupts(f->q[0].drv, true));   /* one is waiting */
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 1), 1);
    assert_int_equal(fx_calls(f, 0), 1);
    fx_free(f);
}

/* With the event index, the device notifies when the used index passes
 * used_event, and only then (2.7.7.2). */
static void test_split_used_event(void **state)
{
    struct fx *f = fx_new(8, false, true, false);
    struct vring_avail *avail = fx_split_avail(f, 0);
    uint64_t calls[5];

    fx_start(f, 0);
    avail->ring[8] = htole16(2);     /* used_event: notify when entry 2 is used */
    for (int i = 0; i < 5; i++) {
        fx_add(f, 0, 0, 1, 8, false);
        assert_int_equal(fx_serve(f, 0, 1), 1);
        calls[i] = fx_calls(f, 0);
    }
    assert_int_equal(calls[0], 0);
    assert_int_equal(calls[1], 0);
    assert_int_equal(calls[2], 1);
    assert_int_equal(calls[3], 0);
    assert_int_equal(calls[4], 0);
    fx_free(f);
}

/* A batch that jumps over used_event still notifies, once. */
static void test_split_used_event_batch(void **state)
{
    struct fx *f = fx_new(8, false, true, false);

    fx_start(f, 0);
    fx_split_avail(f, 0)->ring[8] = htole16(1);
    for (int i = 0; i < 4; i++)
        fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 1), 4);
    assert_int_equal(fx_calls(f, 0), 1);
    fx_free(f);
}

/* The driver library's own used_event handling: interrupts on, one call per
 * served batch. */
static void test_split_event_idx_driver(void **state)
{
    struct fx *f = fx_new(8, false, true, false);
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    assert_false(vdev_vqd_set_interrupts(f->q[0].drv, true));
    for (int round = 0; round < 20; round++) {
        fx_add(f, 0, 0, 1, 8, false);
        fx_add(f, 0, 0, 1, 8, false);
        assert_int_equal(fx_serve(f, 0, 1), 2);
        assert_int_equal(fx_calls(f, 0), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    }
    fx_free(f);
}

/* Kick suppression without the event index: VRING_USED_F_NO_NOTIFY. */
static void test_split_kick_flags(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    struct vring_used *used = fx_split_used(f, 0);

    fx_start(f, 0);
    fx_add(f, 0, 0, 1, 8, false);
    assert_true(vdev_vqd_kick_prepare(f->q[0].drv));

    assert_true(vdev_vq_set_notification(f->q[0].vq, false) == false);
    assert_int_equal(le16toh(used->flags), VRING_USED_F_NO_NOTIFY);
    fx_add(f, 0, 0, 1, 8, false);
    assert_false(vdev_vqd_kick_prepare(f->q[0].drv));

    /* Re-enabling sees the two requests that came while kicks were off. */
    assert_true(vdev_vq_set_notification(f->q[0].vq, true));
    assert_int_equal(le16toh(used->flags), 0);
    assert_int_equal(fx_serve(f, 0, 0), 2);
    assert_false(vdev_vq_set_notification(f->q[0].vq, true));
    fx_add(f, 0, 0, 1, 8, false);
    assert_true(vdev_vqd_kick_prepare(f->q[0].drv));
    fx_free(f);
}

/* With the event index, a pop that finds the ring empty asks for a kick at the
 * next entry, so an interrupt-mode worker that sleeps then is woken. */
static void test_split_empty_pop_rearms(void **state)
{
    struct fx *f = fx_new(8, false, true, false);

    fx_start(f, 0);
    for (int i = 0; i < 3; i++) {
        fx_add(f, 0, 0, 1, 8, false);
        assert_true(vdev_vqd_kick_prepare(f->q[0].drv));
        assert_int_equal(fx_serve(f, 0, 0), 1);       /* ends with an empty pop */
    }
    fx_free(f);
}

/* With the event index, disabling kicks leaves avail_event behind: the driver
 * does not kick; enabling asks again and reports what is waiting. */
static void test_split_kick_event_idx(void **state)
{
    struct fx *f = fx_new(8, false, true, false);
    struct vring_used *used = fx_split_used(f, 0);

    fx_start(f, 0);
    assert_false(vdev_vq_set_notification(f->q[0].vq, false));
    fx_add(f, 0, 0, 1, 8, false);
    assert_true(vdev_vqd_kick_prepare(f->q[0].drv));  /* avail_event 0 was passed */
    fx_add(f, 0, 0, 1, 8, false);
    assert_false(vdev_vqd_kick_prepare(f->q[0].drv));
    assert_true(vdev_vq_set_notification(f->q[0].vq, true));
    assert_int_equal(fx_serve(f, 0, 0), 2);
    uint16_t avail_event;
    memcpy(&avail_event, &used->ring[8], sizeof(avail_event));
    assert_int_equal(le16toh(avail_event), 2);
    fx_add(f, 0, 0, 1, 8, false);
    assert_true(vdev_vqd_kick_prepare(f->q[0].drv));
    fx_free(f);
}

/* GET_VRING_BASE after a stop gives where a new start picks up; the used index
 * comes from the ring. */
static void test_split_base_restart(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    for (int i = 0; i < 3; i++)
        fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(fx_serve(f, 0, 0), 3);
    fx_add(f, 0, 0, 1, 8, false);
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 3);
    vdev_vq_stop(f->q[0].vq);
    assert_false(vdev_vq_started(f->q[0].vq));

    f->q[0].cfg.base = 3;
    fx_start(f, 0);
    assert_int_equal(fx_serve(f, 0, 0), 1);
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 4);
    assert_int_equal(le16toh(fx_split_used(f, 0)->idx), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    fx_free(f);
}

/* Start refuses bad sizes, misaligned areas, a base with reserved bits set and
 * areas not mapped as needed. */
static void test_split_start_checks(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    struct vdev_vq *vq = f->q[0].vq;
    struct vdev_vq_config c;
    const uint16_t bad_sizes[] = { 0, 3, 12, 65535 };

    for (unsigned i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        c = f->q[0].cfg;
        c.size = bad_sizes[i];
        assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    }
    c = f->q[0].cfg; c.desc_gpa += 8;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.driver_gpa += 1;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.device_gpa += 2;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.mem = NULL;
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);
    c = f->q[0].cfg; c.base = 0x10000;                     /* bits 16-31 reserved */
    assert_int_equal(vdev_vq_start(vq, &c), -EINVAL);

    c = f->q[0].cfg; c.device_gpa = FX_RO_GPA;             /* used ring read-only */
    assert_int_equal(vdev_vq_start(vq, &c), -EFAULT);
    c = f->q[0].cfg; c.desc_gpa = FX_HOLE_GPA;
    assert_int_equal(vdev_vq_start(vq, &c), -EFAULT);
    c = f->q[0].cfg; c.driver_gpa = FX_GPA_BASE + f->mem_size - 8;   /* runs off */
    assert_int_equal(vdev_vq_start(vq, &c), -EFAULT);
    c = f->q[0].cfg; c.desc_gpa = FX_RO_GPA;               /* readable is enough */
    assert_int_equal(vdev_vq_start(vq, &c), 0);
    vdev_vq_stop(vq);

    c = f->q[0].cfg; c.size = 1;                           /* smallest ring */
    assert_int_equal(vdev_vq_start(vq, &c), 0);
    assert_int_equal(vdev_vq_start(vq, &c), -EBUSY);
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

/* A push records in the dirty log the written part of the writable buffers and
 * the used ring entry and index, at the used log address when one is given. */
static void check_dirty(bool log_used)
{
    struct fx *f = fx_new(8, false, false, false);
    struct vdev_dirty_range range = { FX_GPA_BASE, f->mem_size };
    struct vdev_dirty *log;
    uint64_t log_gpa = fx_buf(f, 100);

    f->q[0].cfg.log_used = log_used;
    f->q[0].cfg.used_log_gpa = log_gpa;
    fx_start(f, 0);
    /* buffers 0 (out), 1, 2, 3 (in), each on its own page */
    fx_add(f, 0, 1, 3, FX_BUF_SIZE, false);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(vdev_dirty_new(&range, 1, &log), 0);
    vdev_mem_set_dirty_log(f->mem, log);                   /* logging from here */
    assert_int_equal(vdev_vq_push(f->q[0].vq, &f->req, FX_BUF_SIZE + 1), 0);

    assert_false(page_dirty(log, fx_buf(f, 0)));
    assert_true(page_dirty(log, fx_buf(f, 1)));
    assert_true(page_dirty(log, fx_buf(f, 2)));
    assert_false(page_dirty(log, fx_buf(f, 3)));
    /* the used element, at push */
    assert_int_equal(page_dirty(log, f->q[0].device_gpa), !log_used);
    assert_int_equal(page_dirty(log, log_gpa), log_used);

    /* the used index, at the flush */
    vdev_dirty_report(log, log_used ? log_gpa : f->q[0].device_gpa, VDEV_DIRTY_PAGE_SIZE,
                      VDEV_DIRTY_PAGE_SIZE, true, (uint8_t[1]){0}, 1);
    vdev_vq_flush(f->q[0].vq);
    assert_int_equal(page_dirty(log, f->q[0].device_gpa), !log_used);
    assert_int_equal(page_dirty(log, log_gpa), log_used);

    vdev_vq_stop(f->q[0].vq);
    vdev_mem_set_dirty_log(f->mem, NULL);
    vdev_dirty_free(log);
    fx_free(f);
}

static void test_split_dirty(void **state)
{
    check_dirty(false);
}

static void test_split_dirty_log_used(void **state)
{
    check_dirty(true);
}

/* The used length never exceeds what the request can hold. */
static void test_split_written_clamped(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    uint16_t id;
    uint32_t len;

    fx_start(f, 0);
    fx_add(f, 0, 1, 1, 10, false);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(vdev_vq_push(f->q[0].vq, &f->req, 1000), 0);
    vdev_vq_flush(f->q[0].vq);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    assert_int_equal(len, 10);
    /* nothing outstanding: a second push is the device's bug */
    assert_int_equal(vdev_vq_push(f->q[0].vq, &f->req, 0), -EINVAL);
    fx_free(f);
}

/* Zero-length descriptors take no iovec and do not stop the chain. */
static void test_split_zero_length(void **state)
{
    struct fx *f = fx_new(8, false, false, false);

    fx_start(f, 0);
    fx_split_set_desc(f, 0, 0, fx_buf(f, 0), 0, VRING_DESC_F_NEXT, 1);
    fx_split_set_desc(f, 0, 1, fx_buf(f, 1), 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
    fx_split_set_desc(f, 0, 2, FX_HOLE_GPA, 0, VRING_DESC_F_WRITE, 0);
    fx_split_offer(f, 0, 0);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.n_out, 0);
    assert_int_equal(f->req.n_in, 1);
    assert_int_equal(f->req.in_len, 16);
    assert_int_equal(f->req.ndesc, 3);
    fx_free(f);
}

/* The 16-bit indices wrap: many laps of a small ring. */
static void test_split_index_wrap(void **state)
{
    struct fx *f = fx_new(4, false, true, true);
    uint16_t id, got;
    uint32_t len;

    fx_start(f, 0);
    for (unsigned i = 0; i < 70000; i++) {
        f->next_buf = 0;
        id = fx_add(f, 0, 1, 1, 4, i % 3 == 0);
        assert_int_equal(fx_serve(f, 0, (uint8_t)i), 1);
        assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &got, &len), 1);
        assert_int_equal(got, id);
        assert_int_equal(len, 4);
    }
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), (uint16_t)70000);
    assert_false(vdev_vq_broken(f->q[0].vq));
    fx_free(f);
}

/* A buffer that crosses from one region into the next takes two iovecs, each
 * with its own guest address. */
static void test_split_buffer_spans_regions(void **state)
{
    struct fx *f = fx_new(8, false, false, false);
    int fd = test_memfd("vq-next", 0x10000);
    struct vdev_mem_region next = {
        .gpa = FX_GPA_BASE + f->mem_size, .size = 0x10000, .fd = fd, .access = VDEV_MEM_RW,
    };
    uint64_t start = next.gpa - 100;

    assert_int_equal(vdev_mem_add(f->mem, &next), 0);
    close(fd);
    fx_start(f, 0);
    fx_split_set_desc(f, 0, 0, start, 300, VRING_DESC_F_WRITE, 0);
    fx_split_offer(f, 0, 0);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.n_in, 2);
    assert_int_equal(f->iov[0].iov_len, 100);
    assert_int_equal(f->iov[1].iov_len, 200);
    assert_int_equal(f->iov_gpa[0], start);
    assert_int_equal(f->iov_gpa[1], next.gpa);
    assert_int_equal(f->req.in_len, 300);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_roundtrip),
        cmocka_unit_test(test_split_chain),
        cmocka_unit_test(test_split_indirect),
        cmocka_unit_test(test_split_chain_then_indirect),
        cmocka_unit_test(test_split_batch),
        cmocka_unit_test(test_split_notify_fn),
        cmocka_unit_test(test_split_no_interrupt_flag),
        cmocka_unit_test(test_split_used_event),
        cmocka_unit_test(test_split_used_event_batch),
        cmocka_unit_test(test_split_event_idx_driver),
        cmocka_unit_test(test_split_kick_flags),
        cmocka_unit_test(test_split_empty_pop_rearms),
        cmocka_unit_test(test_split_kick_event_idx),
        cmocka_unit_test(test_split_base_restart),
        cmocka_unit_test(test_split_start_checks),
        cmocka_unit_test(test_split_dirty),
        cmocka_unit_test(test_split_dirty_log_used),
        cmocka_unit_test(test_split_written_clamped),
        cmocka_unit_test(test_split_zero_length),
        cmocka_unit_test(test_split_index_wrap),
        cmocka_unit_test(test_split_buffer_spans_regions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
