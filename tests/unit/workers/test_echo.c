/* The echo device: its constants and features, the configuration space's rules,
 * the reply (header, payload, truncation, too-short writable areas), hold mode
 * with releases from another thread, save and load. The device is driven
 * directly (the test thread plays the worker, with its own loop) except where a
 * worker thread is the point. */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vdev/dev_echo.h"
#include "vdev/loop.h"
#include "vdev/workers.h"
#include "wk_fixture.h"

struct efx {
    int fds_before;
    struct fx *f;
    struct vdev_loop *loop;
    struct vdev_virtio_dev *dev;
    const struct vdev_virtio_ops *ops;
    struct vdev_virtio_queue q[FX_QUEUES];
    bool started[FX_QUEUES];
};

/* The ring layouts the reply tests run on. */
struct layout {
    bool packed, event_idx, indirect;
};

static const struct layout split_plain = { false, false, false };
static const struct layout split_ind = { false, true, true };
static const struct layout packed_plain = { true, false, false };
static const struct layout packed_ind = { true, true, true };

static struct efx *efx_new(const struct layout *l, bool hold, uint16_t nq)
{
    struct efx *e = calloc(1, sizeof(*e));
    struct vdev_echo_config c = { .num_queues = nq, .hold = hold };

    assert_non_null(e);
    e->fds_before = test_count_fds();
    e->f = fx_new(256, l->packed, l->event_idx, l->indirect);
    assert_int_equal(vdev_loop_new(&e->loop), 0);
    assert_int_equal(vdev_echo_new(&c, &e->dev), 0);
    e->ops = e->dev->ops;
    return e;
}

static void efx_free(struct efx *e)
{
    int before = e->fds_before;

    for (unsigned i = 0; i < FX_QUEUES; i++)
        if (e->started[i])
            e->ops->queue_stop(e->dev->priv, &e->q[i]);
    vdev_echo_free(e->dev);
    vdev_loop_free(e->loop);
    fx_free(e->f);
    free(e);
    assert_no_fd_leak(before);
}

/* Starts fixture queue qi and the device's queue qi on the test's loop. */
static void efx_start(struct efx *e, unsigned qi)
{
    fx_start(e->f, qi);
    e->q[qi] = (struct vdev_virtio_queue){
        .index = qi, .vq = e->f->q[qi].vq, .mem = e->f->mem, .loop = e->loop,
    };
    assert_int_equal(e->ops->queue_start(e->dev->priv, &e->q[qi]), 0);
    e->started[qi] = true;
}

static void efx_kick(struct efx *e, unsigned qi)
{
    vdev_vqd_kick_prepare(e->f->q[qi].drv);
    e->ops->queue_kick(e->dev->priv, &e->q[qi]);
}

static uint32_t cfg32(struct efx *e, uint32_t off)
{
    uint32_t v;

    assert_int_equal(e->ops->get_config(e->dev->priv, off, &v, 4), 0);
    return le32toh(v);
}

static uint64_t served(struct efx *e)
{
    uint64_t v;

    assert_int_equal(e->ops->get_config(e->dev->priv, VDEV_ECHO_CFG_SERVED, &v, 8), 0);
    return le64toh(v);
}

static int set32(struct efx *e, uint32_t off, uint32_t v, uint32_t len)
{
    uint8_t buf[8] = { 0 };

    v = htole32(v);
    memcpy(buf, &v, 4);
    return e->ops->set_config(e->dev->priv, off, buf, len);
}

/* --- the device ------------------------------------------------------------ */

/* Creation checks its queue count; the ops say what dev_echo.h says. */
static void test_new_and_constants(void **state)
{
    struct vdev_echo_config c = { .num_queues = 0 };
    struct vdev_virtio_dev *dev = NULL;
    const uint64_t ring = (1ull << VIRTIO_RING_F_EVENT_IDX) |
                          (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
                          (1ull << VIRTIO_F_RING_PACKED);

    assert_int_equal(vdev_echo_new(&c, &dev), -EINVAL);
    c.num_queues = VDEV_ECHO_MAX_QUEUES + 1;
    assert_int_equal(vdev_echo_new(&c, &dev), -EINVAL);
    assert_int_equal(vdev_echo_new(NULL, &dev), -EINVAL);
    assert_null(dev);

    c.num_queues = 5;
    assert_int_equal(vdev_echo_new(&c, &dev), 0);
    assert_int_equal(dev->ops->device_id, 0xfff0);
    assert_int_equal(dev->ops->max_queue_size, 32768);
    assert_int_equal(dev->ops->config_size, 16);
    assert_string_equal(dev->ops->name, "echo");
    assert_int_equal(dev->ops->num_queues(dev->priv), 5);
    assert_int_equal(dev->ops->features(dev->priv), ring);
    assert_int_equal(dev->ops->set_features(dev->priv,
                                            ring | (1ull << VIRTIO_F_VERSION_1)), 0);
    assert_int_equal(dev->ops->set_features(dev->priv, 1ull << 5), -EINVAL);
    assert_int_equal(vdev_echo_release(dev, 1), -EINVAL);       /* no hold mode */
    vdev_echo_free(dev);
}

/* magic and the counter are read-only (-EPERM, unchanged); scratch is writable
 * whole or in part; a range outside the space is -EINVAL. */
static void test_config_rules(void **state)
{
    struct efx *e = efx_new(&split_plain, false, 1);
    uint8_t all[16], again[16];
    uint8_t b = 0xaa;

    assert_int_equal(cfg32(e, VDEV_ECHO_CFG_MAGIC), 0x76646576);
    assert_int_equal(cfg32(e, VDEV_ECHO_CFG_SCRATCH), 0);
    assert_int_equal(served(e), 0);

    assert_int_equal(set32(e, VDEV_ECHO_CFG_SCRATCH, 0x11223344, 4), 0);
    assert_int_equal(cfg32(e, VDEV_ECHO_CFG_SCRATCH), 0x11223344);
    assert_int_equal(e->ops->set_config(e->dev->priv, 6, &b, 1), 0);
    assert_int_equal(cfg32(e, VDEV_ECHO_CFG_SCRATCH), 0x11aa3344);

    assert_int_equal(e->ops->get_config(e->dev->priv, 0, all, 16), 0);
    assert_int_equal(set32(e, VDEV_ECHO_CFG_MAGIC, 1, 4), -EPERM);
    assert_int_equal(set32(e, 2, 1, 4), -EPERM);             /* magic and scratch */
    assert_int_equal(set32(e, 6, 1, 4), -EPERM);             /* scratch and counter */
    assert_int_equal(set32(e, VDEV_ECHO_CFG_SERVED, 1, 8), -EPERM);
    assert_int_equal(set32(e, 15, 1, 1), -EPERM);
    assert_int_equal(set32(e, 17, 1, 1), -EINVAL);
    assert_int_equal(set32(e, 12, 1, 8), -EINVAL);
    assert_int_equal(e->ops->get_config(e->dev->priv, 12, again, 8), -EINVAL);
    assert_int_equal(e->ops->get_config(e->dev->priv, 0, again, 16), 0);
    assert_memory_equal(all, again, 16);
    assert_int_equal(e->ops->get_config(e->dev->priv, 5, &b, 1), 0);
    assert_int_equal(b, 0x33);
    efx_free(e);
}

/* A queue index past the device's queues is refused; a queue twice is -EBUSY. */
static void test_queue_start_checks(void **state)
{
    struct efx *e = efx_new(&split_plain, false, 1);
    struct vdev_virtio_queue q;

    fx_start(e->f, 1);
    q = (struct vdev_virtio_queue){ .index = 1, .vq = e->f->q[1].vq, .loop = e->loop };
    assert_int_equal(e->ops->queue_start(e->dev->priv, &q), -EINVAL);
    efx_start(e, 0);
    q.index = 0;
    assert_int_equal(e->ops->queue_start(e->dev->priv, &q), -EBUSY);
    efx_free(e);
}

/* --- replies --------------------------------------------------------------- */

/* Header {sum, length} then the payload, across buffers on both sides; cut to
 * the writable area; nothing readable; too little to write (none, 7 bytes):
 * used length 0 and the buffer untouched; exactly a header; many segments. */
static void replies(const struct layout *l)
{
    static const uint32_t o_a[] = { 5, 100, 1 }, i_a[] = { 5, 200 };
    static const uint32_t o_b[] = { 300 }, i_b[] = { 58 };
    static const uint32_t i_c[] = { 16 }, o_d[] = { 9 }, i_e[] = { 7 };
    static const uint32_t i_f[] = { 3, 5 }, i_g[] = { 400 };
    uint32_t o_g[WK_BUFS];
    struct efx *e = efx_new(l, false, 1);
    struct wk_req r[8];
    int n = 0;

    for (unsigned i = 0; i < WK_BUFS; i++)
        o_g[i] = 37 + i;
    efx_start(e, 0);
    wk_add(e->f, 0, o_a, 3, i_a, 2, l->indirect, 1, &r[n++]);
    wk_add(e->f, 0, o_b, 1, i_b, 1, false, 2, &r[n++]);
    wk_add(e->f, 0, NULL, 0, i_c, 1, l->indirect, 3, &r[n++]);
    wk_add(e->f, 0, o_d, 1, NULL, 0, false, 4, &r[n++]);
    wk_add(e->f, 0, o_d, 1, i_e, 1, l->indirect, 5, &r[n++]);
    wk_add(e->f, 0, o_b, 1, i_f, 2, false, 6, &r[n++]);
    wk_add(e->f, 0, o_g, WK_BUFS, i_g, 1, l->indirect, 7, &r[n++]);
    efx_kick(e, 0);
    assert_int_equal(wk_expected_len(&r[0]), 8 + 106);
    assert_int_equal(wk_expected_len(&r[1]), 58);
    assert_int_equal(wk_expected_len(&r[2]), 8);
    assert_int_equal(wk_expected_len(&r[4]), 0);
    assert_int_equal(wk_expected_len(&r[5]), 8);
    for (int i = 0; i < n; i++) {
        uint16_t id;
        uint32_t len;

        assert_int_equal(vdev_vqd_get_used(e->f->q[0].drv, &id, &len), 1);
        assert_int_equal(id, r[i].id);
        wk_check(e->f, &r[i], len);
    }
    assert_int_equal(vdev_vqd_get_used(e->f->q[0].drv, &(uint16_t){ 0 },
                                       &(uint32_t){ 0 }), 0);
    assert_int_equal(served(e), n);
    assert_true(fx_calls(e->f, 0) >= 1);
    efx_free(e);
}

static void test_replies_split(void **state)
{
    replies(&split_plain);
}

static void test_replies_split_indirect(void **state)
{
    replies(&split_ind);
}

static void test_replies_packed(void **state)
{
    replies(&packed_plain);
}

static void test_replies_packed_indirect(void **state)
{
    replies(&packed_ind);
}

/* queue_poll serves like a kick and says how many it took. */
static void test_poll_counts(void **state)
{
    static const uint32_t o[] = { 10 }, in[] = { 32 };
    struct efx *e = efx_new(&split_plain, false, 1);
    struct wk_req r;

    efx_start(e, 0);
    assert_int_equal(e->ops->queue_poll(e->dev->priv, &e->q[0]), 0);
    for (int i = 0; i < 3; i++)
        wk_add(e->f, 0, o, 1, in, 1, false, (uint8_t)i, &r);
    vdev_vqd_kick_prepare(e->f->q[0].drv);
    assert_int_equal(e->ops->queue_poll(e->dev->priv, &e->q[0]), 3);
    assert_int_equal(served(e), 3);
    efx_free(e);
}

/* --- hold mode ----------------------------------------------------------- */

struct releaser {
    struct vdev_virtio_dev *dev;
    uint32_t n;
    int ret;
};

static void *release_thread(void *arg)
{
    struct releaser *r = arg;

    r->ret = vdev_echo_release(r->dev, r->n);
    return NULL;
}

static void release_from_thread(struct vdev_virtio_dev *dev, uint32_t n)
{
    struct releaser r = { .dev = dev, .n = n };
    pthread_t th;

    assert_int_equal(pthread_create(&th, NULL, release_thread, &r), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.ret, 0);
}

/* Held requests are popped and kept; a release from another thread does no
 * work there, but wakes the queue's loop, whose round completes them oldest
 * first; stopping the queue cancels the rest: never pushed. */
static void test_hold_release_other_thread(void **state)
{
    static const uint32_t o[] = { 21 }, in[] = { 64 };
    struct efx *e = efx_new(&packed_plain, true, 2);
    struct wk_req r[3];
    uint16_t id;
    uint32_t len;

    efx_start(e, 0);
    for (int i = 0; i < 3; i++)
        wk_add(e->f, 0, o, 1, in, 1, false, (uint8_t)i, &r[i]);
    efx_kick(e, 0);
    assert_int_equal(vdev_echo_held(e->dev), 3);
    assert_false(wk_used_within(e->f, 0, 0));
    assert_int_equal(served(e), 0);

    release_from_thread(e->dev, 2);
    assert_false(wk_used_within(e->f, 0, 0));       /* not on the releasing thread */
    assert_int_equal(vdev_echo_held(e->dev), 3);
    assert_true(vdev_loop_run_once(e->loop, 1000) >= 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(vdev_vqd_get_used(e->f->q[0].drv, &id, &len), 1);
        assert_int_equal(id, r[i].id);
        wk_check(e->f, &r[i], len);
    }
    assert_false(wk_used_within(e->f, 0, 0));
    assert_int_equal(vdev_echo_held(e->dev), 1);
    assert_int_equal(served(e), 2);
    assert_true(fx_calls(e->f, 0) >= 1);

    e->ops->queue_stop(e->dev->priv, &e->q[0]);
    e->started[0] = false;
    assert_int_equal(vdev_echo_held(e->dev), 0);
    assert_false(wk_used_within(e->f, 0, 0));
    assert_int_equal(served(e), 2);
    efx_free(e);
}

/* A release that comes before its request is kept for it. */
static void test_hold_release_first(void **state)
{
    static const uint32_t o[] = { 3 }, in[] = { 64 };
    struct efx *e = efx_new(&split_plain, true, 1);
    struct wk_req r;
    uint16_t id;
    uint32_t len;

    assert_int_equal(vdev_echo_release(e->dev, 1), 0);
    efx_start(e, 0);
    wk_add(e->f, 0, o, 1, in, 1, false, 1, &r);
    efx_kick(e, 0);
    assert_int_equal(vdev_vqd_get_used(e->f->q[0].drv, &id, &len), 1);
    wk_check(e->f, &r, len);
    wk_add(e->f, 0, o, 1, in, 1, false, 2, &r);      /* no release left */
    efx_kick(e, 0);
    assert_int_equal(vdev_echo_held(e->dev), 1);
    assert_false(wk_used_within(e->f, 0, 0));
    efx_free(e);
}

static void *release_later(void *arg)
{
    wk_sleep_ms(20);
    return release_thread(arg);
}

/* On a real worker: requests stay in flight until released from another
 * thread, then come back. */
static void test_hold_on_worker(void **state)
{
    static const uint32_t o[] = { 50 }, in[] = { 64 };
    struct efx *e = efx_new(&split_ind, true, 1);
    struct vdev_workers_config wc = { .threads = 1, .name = "echo" };
    struct vdev_workers *w;
    struct vdev_worker_queue *wq;
    struct releaser rel = { .dev = e->dev, .n = 2 };
    struct wk_req r[2];
    pthread_t th;
    int kick = wk_eventfd();

    assert_int_equal(vdev_workers_new(&wc, &w), 0);
    fx_start(e->f, 0);
    e->q[0] = (struct vdev_virtio_queue){
        .index = 0, .vq = e->f->q[0].vq, .mem = e->f->mem,
    };
    assert_int_equal(vdev_workers_start(w, 0, e->dev, &e->q[0], kick, &wq), 0);
    for (int i = 0; i < 2; i++) {
        wk_add(e->f, 0, o, 1, in, 1, false, (uint8_t)i, &r[i]);
        wk_kick(e->f, 0, kick);
    }
    assert_true(WK_WAIT(vdev_echo_held(e->dev) == 2, WK_WAIT_MS));
    assert_false(wk_used_within(e->f, 0, 20));
    assert_int_equal(pthread_create(&th, NULL, release_later, &rel), 0);
    for (int i = 0; i < 2; i++) {
        uint16_t id;
        uint32_t len;

        wk_wait_used(e->f, 0, &id, &len);
        assert_int_equal(id, r[i].id);
        wk_check(e->f, &r[i], len);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(rel.ret, 0);
    vdev_workers_stop(w, wq);
    vdev_workers_free(w);
    close(kick);
    efx_free(e);
}

/* --- state ------------------------------------------------------------------ */

/* save carries scratch and the counter into another device; a short buffer is
 * -ENOSPC; load refuses a wrong length or magic and changes nothing then; reset
 * clears both. */
static void test_save_load(void **state)
{
    static const uint32_t o[] = { 4 }, in[] = { 16 };
    struct efx *e = efx_new(&split_plain, false, 1);
    struct efx *e2 = efx_new(&split_plain, false, 1);
    uint8_t buf[32], bad[16];
    struct wk_req r;

    assert_int_equal(set32(e, VDEV_ECHO_CFG_SCRATCH, 0xdeadbeef, 4), 0);
    efx_start(e, 0);
    for (int i = 0; i < 3; i++)
        wk_add(e->f, 0, o, 1, in, 1, false, 0, &r);
    efx_kick(e, 0);
    assert_int_equal(served(e), 3);

    assert_int_equal(e->ops->save(e->dev->priv, buf, 15), -ENOSPC);
    assert_int_equal(e->ops->save(e->dev->priv, buf, sizeof(buf)), 16);
    assert_int_equal(e2->ops->load(e2->dev->priv, buf, 15), -EINVAL);
    memcpy(bad, buf, 16);
    bad[0] ^= 1;
    assert_int_equal(e2->ops->load(e2->dev->priv, bad, 16), -EINVAL);
    assert_int_equal(cfg32(e2, VDEV_ECHO_CFG_SCRATCH), 0);
    assert_int_equal(served(e2), 0);
    assert_int_equal(e2->ops->load(e2->dev->priv, buf, 16), 0);
    assert_int_equal(cfg32(e2, VDEV_ECHO_CFG_SCRATCH), 0xdeadbeef);
    assert_int_equal(served(e2), 3);

    e2->ops->reset(e2->dev->priv);
    assert_int_equal(cfg32(e2, VDEV_ECHO_CFG_SCRATCH), 0);
    assert_int_equal(served(e2), 0);
    assert_int_equal(cfg32(e2, VDEV_ECHO_CFG_MAGIC), VDEV_ECHO_MAGIC);
    efx_free(e2);
    efx_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_constants),
        cmocka_unit_test(test_config_rules),
        cmocka_unit_test(test_queue_start_checks),
        cmocka_unit_test(test_replies_split),
        cmocka_unit_test(test_replies_split_indirect),
        cmocka_unit_test(test_replies_packed),
        cmocka_unit_test(test_replies_packed_indirect),
        cmocka_unit_test(test_poll_counts),
        cmocka_unit_test(test_hold_release_other_thread),
        cmocka_unit_test(test_hold_release_first),
        cmocka_unit_test(test_hold_on_worker),
        cmocka_unit_test(test_save_load),
    };

    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
