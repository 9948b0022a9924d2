/* virtio-blk queues: flush ordering, stop with requests in flight, more
 * requests than slots, queues sharing a worker's io_uring, poll mode, restart. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../block/blk_gate.h"
#include "devices/virtio_blk_internal.h"
#include "vblk_harness.h"
#include "vdev/workers.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint16_t add_write(struct vh *h, unsigned qi, uint64_t sector, uint8_t fill,
                          uint64_t *status)
{
    uint64_t data = vh_alloc(h, 4096);

    memset(vh_host(h, data), fill, 4096);
    *status = vh_alloc(h, 1);
    *(uint8_t *)vh_host(h, *status) = 0xff;
    return vh_add(h, qi, (struct vdev_vqd_buf[]){ { vh_hdr(h, VIRTIO_BLK_T_OUT, sector), 16 },
                                                  { data, 4096 } }, 2,
                  &(struct vdev_vqd_buf){ *status, 1 }, 1);
}

static uint16_t add_flush(struct vh *h, unsigned qi, uint64_t *status)
{
    *status = vh_alloc(h, 1);
    *(uint8_t *)vh_host(h, *status) = 0xff;
    return vh_add(h, qi, &(struct vdev_vqd_buf){ vh_hdr(h, VIRTIO_BLK_T_FLUSH, 0), 16 }, 1,
                  &(struct vdev_vqd_buf){ *status, 1 }, 1);
}

/* Two writes and a flush in one kick, on a backend that holds writes: the
 * flush is not issued, and not used, until both writes have completed; it is
 * used after them. */
static void test_flush_after_writes(void **state)
{
    struct blk_gate g;
    struct vdev_blk *b;
    struct vh *h;
    uint64_t s1, s2, sf;
    uint16_t w1, w2, fl;

    blk_gate_new(&g, 1 << 20, &b);
    h = vh_new(&(struct vh_opts){ .blk = b });
    w1 = add_write(h, 0, 0, 1, &s1);
    w2 = add_write(h, 0, 8, 2, &s2);
    fl = add_flush(h, 0, &sf);
    vh_kick(h, 0);
    for (int i = 0; i < 3; i++)
        vh_run(h, 10);
    assert_int_equal(g.nheld, 2);
    assert_int_equal(g.flushes_started, 0);
    assert_false(vh_used(h, 0, fl));

    blk_gate_release(&g, 1, 0);
    assert_int_equal(vh_wait(h, 0, w2), 1);
    vh_run(h, 10);
    assert_int_equal(g.flushes_started, 0);
    assert_false(vh_used(h, 0, fl));

    blk_gate_release(&g, 0, 0);
    assert_int_equal(vh_wait(h, 0, w1), 1);
    assert_int_equal(vh_wait(h, 0, fl), 1);
    assert_int_equal(g.flushes_started, 1);
    assert_int_equal(h->norder[0], 3);
    assert_int_equal(h->order[0][2], fl);
    assert_int_equal(*(uint8_t *)vh_host(h, sf), VIRTIO_BLK_S_OK);
    vh_free(h);
    vdev_blk_close(b);
}

/* A backend error becomes IOERR for that request only. */
static void test_backend_error(void **state)
{
    struct blk_gate g;
    struct vdev_blk *b;
    struct vh *h;
    uint64_t s1, s2;
    uint16_t w1, w2;

    blk_gate_new(&g, 1 << 20, &b);
    h = vh_new(&(struct vh_opts){ .blk = b });
    w1 = add_write(h, 0, 0, 1, &s1);
    w2 = add_write(h, 0, 8, 2, &s2);
    vh_kick(h, 0);
    blk_gate_release(&g, 0, -EIO);
    blk_gate_release(&g, 1, 0);
    assert_int_equal(vh_wait(h, 0, w1), 1);
    assert_int_equal(vh_wait(h, 0, w2), 1);
    assert_int_equal(*(uint8_t *)vh_host(h, s1), VIRTIO_BLK_S_IOERR);
    assert_int_equal(*(uint8_t *)vh_host(h, s2), VIRTIO_BLK_S_OK);
    vh_free(h);
    vdev_blk_close(b);
}

/* queue_stop returns only when the requests in flight are done and used:
 * writes that take 50 ms in the kernel, kicked and stopped at once, are all in
 * the used ring, OK, when it returns. Started again, the queue serves. */
static void test_stop_finishes_inflight(void **state)
{
    struct blk_gate g;
    struct vdev_blk *b;
    struct vh *h;
    uint64_t st[16];
    uint16_t id[16];

    blk_gate_new(&g, 1 << 20, &b);
    g.delay_ms = 50;
    h = vh_new(&(struct vh_opts){ .blk = b });
    for (int i = 0; i < 16; i++)
        id[i] = add_write(h, 0, (uint64_t)i * 8, (uint8_t)(i + 1), &st[i]);
    vh_kick(h, 0);
    assert_false(vh_used(h, 0, id[0]));
    h->ops->queue_stop(h->dev->priv, &h->q[0]);
    for (int i = 0; i < 16; i++) {
        assert_true(vh_take(h, 0, id[i]));
        assert_int_equal(*(uint8_t *)vh_host(h, st[i]), VIRTIO_BLK_S_OK);
    }
    vh_ring_stop(h, 0);
    vh_start(h, 0);
    {
        uint8_t back[512];

        vh_read(h, 0, 0, back, sizeof(back));
        assert_int_equal(back[0], 0);
    }
    vh_free(h);
    vdev_blk_close(b);
}

/* The same on a real file: every write is in the image when stop returns. */
static void test_stop_file(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .ring = 64 });
    uint64_t st[16];
    uint16_t id[16];

    for (int i = 0; i < 16; i++)
        id[i] = add_write(h, 0, (uint64_t)i * 8, (uint8_t)(i + 1), &st[i]);
    vh_kick(h, 0);
    vh_stop(h, 0);
    for (int i = 0; i < 16; i++) {
        uint8_t got[4096], want[4096];

        assert_true(vh_take(h, 0, id[i]));
        assert_int_equal(*(uint8_t *)vh_host(h, st[i]), VIRTIO_BLK_S_OK);
        memset(want, i + 1, sizeof(want));
        vh_pread(h, got, sizeof(got), (uint64_t)i * 4096);
        assert_memory_equal(got, want, sizeof(got));
    }
    vh_free(h);
}

/* More requests than a queue has slots: it stops popping when it runs out and
 * goes on as requests complete, without a new kick. */
static void test_more_requests_than_slots(void **state)
{
    enum { N = 200 };
    struct vh *h = vh_new(&(struct vh_opts){ .ring = 256, .indirect = true,
                                             .spec = "null:size=1M" });
    uint64_t st[N];
    uint16_t id[N];

    for (int i = 0; i < N; i++) {
        uint64_t data = vh_alloc(h, 512);

        st[i] = vh_alloc(h, 1);
        *(uint8_t *)vh_host(h, st[i]) = 0xff;
        memset(vh_host(h, data), 0xaa, 512);
        id[i] = vh_add(h, 0, &(struct vdev_vqd_buf){ vh_hdr(h, VIRTIO_BLK_T_IN, i), 16 }, 1,
                       (struct vdev_vqd_buf[]){ { data, 512 }, { st[i], 1 } }, 2);
    }
    vh_kick(h, 0);
    assert_true(((struct vblk_queue *)h->q[0].priv)->nslots < N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(vh_wait(h, 0, id[i]), 513);
        assert_int_equal(*(uint8_t *)vh_host(h, st[i]), VIRTIO_BLK_S_OK);
    }
    vh_free(h);
}

/* Two queues on one loop share one io_uring; both serve. */
static void test_queues_share_worker(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .num_queues = 2 });
    struct vblk_dev *d = h->dev->priv;
    uint8_t a[4096], b[4096];

    assert_non_null(d->workers);
    assert_null(d->workers->next);
    assert_int_equal(d->workers->refs, 2);
    memset(a, 0x11, sizeof(a));
    vh_write(h, 0, 0, a, sizeof(a));
    vh_read(h, 1, 0, b, sizeof(b));
    assert_memory_equal(a, b, sizeof(a));
    vh_stop(h, 0);
    assert_int_equal(d->workers->refs, 1);
    vh_write(h, 1, 8, a, sizeof(a));
    vh_stop(h, 1);
    assert_null(d->workers);
    vh_free(h);
}

/* Queues on two loops get an io_uring each. */
static void test_queues_on_two_workers(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .num_queues = 2, .no_start = true });
    struct vblk_dev *d = h->dev->priv;
    struct vdev_loop *other;

    assert_int_equal(vdev_loop_new(&other), 0);
    h->q[1].loop = other;
    vh_start(h, 0);
    vh_start(h, 1);
    assert_non_null(d->workers);
    assert_non_null(d->workers->next);
    vh_stop(h, 1);
    vh_stop(h, 0);
    assert_null(d->workers);
    vdev_loop_free(other);
    vh_free(h);
}

/* Poll mode: queue_poll alone, never the loop, pops, completes and pushes. */
static void test_poll_mode(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ 0 });
    uint64_t st;
    uint16_t id = add_write(h, 0, 0, 0x42, &st);
    int handled = 0;

    struct timespec start, now;

    /* Bounded by time, not by rounds: a loaded machine completes the write
     * late, and the io_uring's worker may not run at all for a while. */
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        handled += h->ops->queue_poll(h->dev->priv, &h->q[0]);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!vh_used(h, 0, id) && now.tv_sec - start.tv_sec < 20);
    assert_true(vh_used(h, 0, id));
    assert_true(handled >= 1);
    assert_int_equal(*(uint8_t *)vh_host(h, st), VIRTIO_BLK_S_OK);
    {
        uint8_t got[4096], want[4096];

        memset(want, 0x42, sizeof(want));
        vh_pread(h, got, sizeof(got), 0);
        assert_memory_equal(got, want, sizeof(got));
    }
    vh_free(h);
}

/* Served by real worker threads, in interrupt mode and in poll mode: writes
 * and a flush kicked through an eventfd all complete, the data in the image. */
static void run_on_workers(bool poll)
{
    struct vh *h = vh_new(&(struct vh_opts){ .ring = 64, .no_start = true });
    struct vdev_workers_config wc = { .threads = 1, .poll = poll, .poll_idle_us = 2000,
                                      .name = "vblk-test" };
    struct vdev_workers *w;
    struct vdev_worker_queue *wq;
    int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    uint64_t one = 1, st[17];
    uint16_t id[17];
    double end = now_s() + 10;

    assert_true(kick >= 0);
    assert_int_equal(vdev_workers_new(&wc, &w), 0);
    fx_start(h->fx, 0);
    assert_int_equal(vdev_workers_start(w, 0, h->dev, &h->q[0], kick, &wq), 0);
    for (int i = 0; i < 16; i++)
        id[i] = add_write(h, 0, (uint64_t)i * 8, (uint8_t)(0x80 + i), &st[i]);
    id[16] = add_flush(h, 0, &st[16]);
    assert_int_equal(write(kick, &one, sizeof(one)), sizeof(one));
    for (int i = 0; i < 17; i++) {
        while (!vh_take(h, 0, id[i])) {
            assert_true(now_s() < end);
            usleep(1000);
        }
        assert_int_equal(*(uint8_t *)vh_host(h, st[i]), VIRTIO_BLK_S_OK);
    }
    vdev_workers_stop(w, wq);
    vh_ring_stop(h, 0);
    vdev_workers_free(w);
    close(kick);
    for (int i = 0; i < 16; i++) {
        uint8_t got[4096], want[4096];

        memset(want, 0x80 + i, sizeof(want));
        vh_pread(h, got, sizeof(got), (uint64_t)i * 4096);
        assert_memory_equal(got, want, sizeof(got));
    }
    vh_free(h);
}

static void test_on_workers(void **state)
{
    run_on_workers(false);
}

static void test_on_polling_workers(void **state)
{
    run_on_workers(true);
}

/* queue_start refuses an index past num_queues and a queue started twice. */
static void test_start_refuses(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .num_queues = 1 });
    struct vdev_virtio_queue q = h->q[1];

    assert_int_equal(h->ops->queue_start(h->dev->priv, &q), -EINVAL);
    q = h->q[0];
    assert_int_equal(h->ops->queue_start(h->dev->priv, &q), -EBUSY);
    q.loop = NULL;
    assert_int_equal(h->ops->queue_start(h->dev->priv, &q), -EINVAL);
    vh_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_after_writes),
        cmocka_unit_test(test_backend_error),
        cmocka_unit_test(test_stop_finishes_inflight),
        cmocka_unit_test(test_stop_file),
        cmocka_unit_test(test_more_requests_than_slots),
        cmocka_unit_test(test_queues_share_worker),
        cmocka_unit_test(test_queues_on_two_workers),
        cmocka_unit_test(test_poll_mode),
        cmocka_unit_test(test_on_workers),
        cmocka_unit_test(test_on_polling_workers),
        cmocka_unit_test(test_start_refuses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
