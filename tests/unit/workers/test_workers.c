/* Worker threads: queue_start and queue_stop run on the worker and are waited
 * for; kicks through the eventfd and in-band kicks from any thread get requests
 * served; several queues on two workers; poll mode serves without kicks and
 * sleeps again when idle; a peer's broken kick fd does not spin the worker; no
 * thread or fd is left behind. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev/dev_echo.h"
#include "vdev/log.h"
#include "vdev/workers.h"
#include "wk_fixture.h"

#define SPY_QUEUES 4

/* A device that records where and when its queue callbacks run, and forwards
 * them to an echo device when it has one. */
struct spy {
    struct vdev_virtio_dev dev;
    struct vdev_virtio_dev *inner;      /* or NULL: callbacks only record */
    int start_ret;                      /* what queue_start returns */
    atomic_bool block_kick;             /* queue_kick waits until it is cleared */
    atomic_bool in_kick;
    atomic_int seq;                     /* orders the events below */
    atomic_int starts, kicks, polls, stops;
    atomic_int kick_done_seq, stop_seq;
    pthread_t start_thread[SPY_QUEUES], kick_thread[SPY_QUEUES], stop_thread[SPY_QUEUES];
    char start_name[SPY_QUEUES][16];
    struct vdev_loop *start_loop[SPY_QUEUES];
};

static struct spy *spy_of(void *dev)
{
    return dev;
}

static int spy_queue_start(void *dev, struct vdev_virtio_queue *q)
{
    struct spy *s = spy_of(dev);
    unsigned i = q->index % SPY_QUEUES;

    s->start_thread[i] = pthread_self();
    pthread_getname_np(pthread_self(), s->start_name[i], sizeof(s->start_name[i]));
    s->start_loop[i] = q->loop;
    atomic_fetch_add(&s->starts, 1);
    if (s->start_ret < 0)
        return s->start_ret;
    return s->inner ? s->inner->ops->queue_start(s->inner->priv, q) : 0;
}

static void spy_queue_kick(void *dev, struct vdev_virtio_queue *q)
{
    struct spy *s = spy_of(dev);

    s->kick_thread[q->index % SPY_QUEUES] = pthread_self();
    atomic_store(&s->in_kick, true);
    while (atomic_load(&s->block_kick))
        wk_sleep_ms(0);
    if (s->inner)
        s->inner->ops->queue_kick(s->inner->priv, q);
    atomic_store(&s->kick_done_seq, atomic_fetch_add(&s->seq, 1) + 1);
    atomic_store(&s->in_kick, false);
    atomic_fetch_add(&s->kicks, 1);
}

static int spy_queue_poll(void *dev, struct vdev_virtio_queue *q)
{
    struct spy *s = spy_of(dev);

    atomic_fetch_add(&s->polls, 1);
    return s->inner ? s->inner->ops->queue_poll(s->inner->priv, q) : 0;
}

static void spy_queue_stop(void *dev, struct vdev_virtio_queue *q)
{
    struct spy *s = spy_of(dev);

    s->stop_thread[q->index % SPY_QUEUES] = pthread_self();
    if (s->inner)
        s->inner->ops->queue_stop(s->inner->priv, q);
    atomic_store(&s->stop_seq, atomic_fetch_add(&s->seq, 1) + 1);
    atomic_fetch_add(&s->stops, 1);
}

static const struct vdev_virtio_ops spy_ops = {
    .name = "spy",
    .queue_start = spy_queue_start,
    .queue_kick = spy_queue_kick,
    .queue_stop = spy_queue_stop,
};

static const struct vdev_virtio_ops spy_poll_ops = {
    .name = "spy-poll",
    .queue_start = spy_queue_start,
    .queue_kick = spy_queue_kick,
    .queue_poll = spy_queue_poll,
    .queue_stop = spy_queue_stop,
};

struct tfx {
    int fds_before;
    int threads_before;
    struct spy spy;
    struct vdev_virtio_dev *echo;
    struct vdev_workers *w;
    struct fx *f[2];
    int kick[4];
    /* Here, not on a test's stack: a test that fails half-way leaves its queues
     * to vdev_workers_free(), which stops them. */
    struct vdev_virtio_queue q[4];
};

static int setup(void **state)
{
    struct tfx *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    alarm(60);          /* a hang fails here, not at meson's timeout */
    t->fds_before = test_count_fds();
    t->threads_before = wk_count_threads();
    t->spy.dev = (struct vdev_virtio_dev){ .ops = &spy_ops, .priv = &t->spy };
    for (int i = 0; i < 4; i++)
        t->kick[i] = -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *t = *state;

    vdev_workers_free(t->w);
    vdev_echo_free(t->echo);
    for (int i = 0; i < 4; i++)
        if (t->kick[i] >= 0)
            close(t->kick[i]);
    for (int i = 1; i >= 0; i--)     /* each checks the fds made since it */
        if (t->f[i])
            fx_free(t->f[i]);
    assert_int_equal(wk_count_threads(), t->threads_before);
    assert_no_fd_leak(t->fds_before);
    free(t);
    alarm(0);
    return 0;
}

static void make_workers(struct tfx *t, unsigned n, bool poll, uint32_t idle_us,
                         const char *name)
{
    struct vdev_workers_config c = {
        .threads = n, .poll = poll, .poll_idle_us = idle_us, .name = name,
    };

    assert_int_equal(vdev_workers_new(&c, &t->w), 0);
}

/* Echo behind the spy, on nq queues. */
static void make_echo(struct tfx *t, uint16_t nq, const struct vdev_virtio_ops *ops)
{
    struct vdev_echo_config c = { .num_queues = nq };

    assert_int_equal(vdev_echo_new(&c, &t->echo), 0);
    t->spy.inner = t->echo;
    t->spy.dev.ops = ops;
}

/* t->q[index] on fixture queue qi of t->f[fi], started. */
static struct vdev_virtio_queue *vq_queue(struct tfx *t, unsigned fi, unsigned qi,
                                          unsigned index)
{
    fx_start(t->f[fi], qi);
    t->q[index] = (struct vdev_virtio_queue){
        .index = index, .vq = t->f[fi]->q[qi].vq, .mem = t->f[fi]->mem,
    };
    return &t->q[index];
}

/* t->q[index] with no ring: for what the workers do without touching one. */
static struct vdev_virtio_queue *bare_queue(struct tfx *t, unsigned index)
{
    t->q[index] = (struct vdev_virtio_queue){ .index = index };
    return &t->q[index];
}

/* --- the set ---------------------------------------------------------------- */

/* No threads is refused; a set has the threads asked for, and free joins them. */
static void test_new_and_free(void **state)
{
    struct tfx *t = *state;
    struct vdev_workers_config zero = { .threads = 0, .name = "x" };
    struct vdev_workers *w = NULL;

    assert_int_equal(vdev_workers_new(&zero, &w), -EINVAL);
    assert_null(w);
    assert_int_equal(vdev_workers_new(NULL, &w), -EINVAL);
    make_workers(t, 3, false, 0, "wkt");
    assert_int_equal(vdev_workers_count(t->w), 3);
    assert_int_equal(wk_count_threads(), t->threads_before + 3);
    vdev_workers_free(t->w);
    t->w = NULL;
    assert_int_equal(wk_count_threads(), t->threads_before);
}

/* queue_start runs on the chosen worker's thread (worker % count), named
 * "<name>-w<n>", with that worker's loop in q->loop; queue_stop runs there too. */
static void test_start_on_worker_thread(void **state)
{
    struct tfx *t = *state;
    struct vdev_virtio_queue *q[2] = { bare_queue(t, 0), bare_queue(t, 1) };
    struct vdev_worker_queue *wq[2];

    make_workers(t, 2, false, 0, "wkt");
    assert_int_equal(vdev_workers_start(t->w, 1, &t->spy.dev, q[0], -1, &wq[0]), 0);
    assert_int_equal(vdev_workers_start(t->w, 2, &t->spy.dev, q[1], -1, &wq[1]), 0);
    assert_int_equal(atomic_load(&t->spy.starts), 2);
    assert_string_equal(t->spy.start_name[0], "wkt-w1");
    assert_string_equal(t->spy.start_name[1], "wkt-w0");
    assert_false(pthread_equal(t->spy.start_thread[0], pthread_self()));
    assert_false(pthread_equal(t->spy.start_thread[0], t->spy.start_thread[1]));
    assert_non_null(q[0]->loop);
    assert_ptr_equal(t->spy.start_loop[0], q[0]->loop);
    assert_true(q[0]->loop != q[1]->loop);

    vdev_workers_stop(t->w, wq[0]);
    vdev_workers_stop(t->w, wq[1]);
    assert_int_equal(atomic_load(&t->spy.stops), 2);
    assert_true(pthread_equal(t->spy.stop_thread[0], t->spy.start_thread[0]));
    assert_true(pthread_equal(t->spy.stop_thread[1], t->spy.start_thread[1]));
}

/* A name too long for the kernel's 15 characters is cut; the suffix stays. */
static void test_long_name_cut(void **state)
{
    struct tfx *t = *state;
    struct vdev_virtio_queue *q = bare_queue(t, 0);
    struct vdev_worker_queue *wq;

    make_workers(t, 1, false, 0, "averyveryverylongname");
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, -1, &wq), 0);
    assert_string_equal(t->spy.start_name[0], "averyveryver-w0");
    vdev_workers_stop(t->w, wq);
}

/* A failing queue_start is returned and leaves nothing running: no kick watch
 * (the same fd can be watched again), no queue_stop, no kick. */
static void test_start_error(void **state)
{
    struct tfx *t = *state;
    struct vdev_virtio_queue *q = bare_queue(t, 0);
    struct vdev_worker_queue *wq = NULL;
    uint64_t one = 1;

    make_workers(t, 1, false, 0, "wkt");
    t->kick[0] = wk_eventfd();
    t->spy.start_ret = -EIO;
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, t->kick[0], &wq), -EIO);
    assert_null(wq);
    assert_int_equal(write(t->kick[0], &one, sizeof(one)), sizeof(one));
    wk_sleep_ms(50);
    assert_int_equal(atomic_load(&t->spy.kicks), 0);
    assert_int_equal(atomic_load(&t->spy.stops), 0);

    t->spy.start_ret = 0;
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, t->kick[0], &wq), 0);
    vdev_workers_stop(t->w, wq);
}

/* A kick fd the loop cannot watch (a regular file) fails the start after
 * queue_start: queue_stop undoes it. */
static void test_start_unwatchable_kick_fd(void **state)
{
    struct tfx *t = *state;
    struct vdev_virtio_queue *q = bare_queue(t, 0);
    struct vdev_worker_queue *wq = NULL;

    make_workers(t, 1, false, 0, "wkt");
    t->kick[0] = test_memfd("not-an-eventfd", 8);
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, t->kick[0], &wq),
                     -EPERM);
    assert_null(wq);
    assert_int_equal(atomic_load(&t->spy.starts), 1);
    assert_int_equal(atomic_load(&t->spy.stops), 1);
}

/* --- serving ------------------------------------------------------------- */

/* Requests made available and kicked through the eventfd are served on the
 * worker: the driver gets each back with the echo header and payload. */
static void kick_serves(void **state, bool packed)
{
    struct tfx *t = *state;
    static const uint32_t out1[] = { 5, 100, 1 }, in1[] = { 5, 200 };
    static const uint32_t out2[] = { 300 }, in2[] = { 58 };
    static const uint32_t in3[] = { 7 };
    struct wk_req r[3];
    struct vdev_virtio_queue *q;
    struct vdev_worker_queue *wq;

    t->f[0] = fx_new(64, packed, true, true);
    make_workers(t, 1, false, 0, "wkt");
    make_echo(t, 1, &spy_ops);
    t->kick[0] = wk_eventfd();
    q = vq_queue(t, 0, 0, 0);
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, t->kick[0], &wq), 0);

    wk_add(t->f[0], 0, out1, 3, in1, 2, false, 1, &r[0]);
    wk_add(t->f[0], 0, out2, 1, in2, 1, true, 2, &r[1]);
    wk_add(t->f[0], 0, out1, 1, in3, 1, false, 3, &r[2]);
    assert_false(wk_used_within(t->f[0], 0, 20));       /* nothing without a kick */
    assert_true(wk_kick(t->f[0], 0, t->kick[0]));
    for (int i = 0; i < 3; i++) {
        uint16_t id;
        uint32_t len;

        wk_wait_used(t->f[0], 0, &id, &len);
        assert_int_equal(id, r[i].id);
        wk_check(t->f[0], &r[i], len);
    }
    assert_true(fx_calls(t->f[0], 0) >= 1);
    assert_true(pthread_equal(t->spy.kick_thread[0], t->spy.start_thread[0]));
    vdev_workers_stop(t->w, wq);
}

static void test_kick_serves_split(void **state)
{
    kick_serves(state, false);
}

static void test_kick_serves_packed(void **state)
{
    kick_serves(state, true);
}

/* Four queues on two workers at once: every request of every queue is served,
 * each queue on its worker's thread, the two workers on different threads. */
static void test_many_queues_two_workers(void **state)
{
    struct tfx *t = *state;
    static const uint32_t out[] = { 33, 64 }, in[] = { 200 };
    struct vdev_virtio_queue *q[4];
    struct vdev_worker_queue *wq[4];
    struct wk_req r[4][16];

    t->f[0] = fx_new(64, false, true, false);
    t->f[1] = fx_new(64, true, true, false);
    make_workers(t, 2, false, 0, "wkt");
    make_echo(t, 4, &spy_ops);
    for (unsigned i = 0; i < 4; i++) {
        t->kick[i] = wk_eventfd();
        q[i] = vq_queue(t, i / 2, i % 2, i);
        assert_int_equal(vdev_workers_start(t->w, i, &t->spy.dev, q[i], t->kick[i],
                                            &wq[i]), 0);
    }
    for (unsigned n = 0; n < 16; n++) {
        for (unsigned i = 0; i < 4; i++) {
            wk_add(t->f[i / 2], i % 2, out, 2, in, 1, false, (uint8_t)(n * 4 + i),
                   &r[i][n]);
            wk_kick(t->f[i / 2], i % 2, t->kick[i]);
        }
    }
    for (unsigned i = 0; i < 4; i++) {
        for (unsigned n = 0; n < 16; n++) {
            uint16_t id;
            uint32_t len;

            wk_wait_used(t->f[i / 2], i % 2, &id, &len);
            assert_int_equal(id, r[i][n].id);
            wk_check(t->f[i / 2], &r[i][n], len);
        }
    }
    assert_true(pthread_equal(t->spy.kick_thread[0], t->spy.kick_thread[2]));
    assert_true(pthread_equal(t->spy.kick_thread[1], t->spy.kick_thread[3]));
    assert_false(pthread_equal(t->spy.kick_thread[0], t->spy.kick_thread[1]));
    assert_true(pthread_equal(t->spy.kick_thread[1], t->spy.start_thread[1]));
    for (unsigned i = 0; i < 4; i++)
        vdev_workers_stop(t->w, wq[i]);
}

/* What the ring holds when the queue is handed over is served at once, with
 * no kick (a ring resumed after a reconnect). */
static void test_start_serves_ring(void **state)
{
    struct tfx *t = *state;
    static const uint32_t out[] = { 12 }, in[] = { 32 };
    struct vdev_virtio_queue *q;
    struct vdev_worker_queue *wq;
    struct wk_req r;
    uint16_t id;
    uint32_t len;

    t->f[0] = fx_new(64, false, false, false);
    make_workers(t, 1, false, 0, "wkt");
    make_echo(t, 1, &spy_ops);
    t->kick[0] = wk_eventfd();
    q = vq_queue(t, 0, 0, 0);
    wk_add(t->f[0], 0, out, 1, in, 1, false, 4, &r);
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, t->kick[0], &wq), 0);
    wk_wait_used(t->f[0], 0, &id, &len);
    assert_int_equal(id, r.id);
    wk_check(t->f[0], &r, len);
    vdev_workers_stop(t->w, wq);
}

struct stopper {
    struct vdev_workers *w;
    struct vdev_worker_queue *wq;
    atomic_bool returned;
};

static void *stop_thread(void *arg)
{
    struct stopper *s = arg;

    vdev_workers_stop(s->w, s->wq);
    atomic_store(&s->returned, true);
    return NULL;
}

/* Stop waits for a queue_kick in progress, which finishes before queue_stop
 * runs; after stop has returned, a kick calls nothing. */
static void test_stop_waits_for_worker(void **state)
{
    struct tfx *t = *state;
    struct vdev_virtio_queue *q = bare_queue(t, 0);
    struct stopper s = { 0 };
    pthread_t th;
    uint64_t one = 1;

    make_workers(t, 1, false, 0, "wkt");
    t->kick[0] = wk_eventfd();
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, t->kick[0], &s.wq), 0);
    assert_true(WK_WAIT(atomic_load(&t->spy.kicks) == 1, WK_WAIT_MS));  /* at start */
    atomic_store(&t->spy.block_kick, true);
    assert_int_equal(write(t->kick[0], &one, sizeof(one)), sizeof(one));
    assert_true(WK_WAIT(atomic_load(&t->spy.in_kick), WK_WAIT_MS));

    s.w = t->w;
    assert_int_equal(pthread_create(&th, NULL, stop_thread, &s), 0);
    wk_sleep_ms(50);
    assert_false(atomic_load(&s.returned));
    assert_int_equal(atomic_load(&t->spy.stops), 0);
    atomic_store(&t->spy.block_kick, false);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(atomic_load(&s.returned));
    assert_int_equal(atomic_load(&t->spy.kicks), 2);
    assert_int_equal(atomic_load(&t->spy.stops), 1);
    assert_true(atomic_load(&t->spy.kick_done_seq) < atomic_load(&t->spy.stop_seq));

    assert_int_equal(write(t->kick[0], &one, sizeof(one)), sizeof(one));
    wk_sleep_ms(50);
    assert_int_equal(atomic_load(&t->spy.kicks), 2);
    assert_int_equal(atomic_load(&t->spy.stops), 1);
}

struct kicker {
    struct vdev_workers *w;
    struct vdev_worker_queue *wq;
    pthread_t self;
    int ret;
};

static void *kick_thread(void *arg)
{
    struct kicker *k = arg;

    k->self = pthread_self();
    k->ret = vdev_workers_kick(k->w, k->wq);
    return NULL;
}

/* An in-band kick from another thread serves a queue that has no kick fd, on
 * the worker's thread. */
static void test_kick_from_other_thread(void **state)
{
    struct tfx *t = *state;
    static const uint32_t out[] = { 77 }, in[] = { 100 };
    struct vdev_virtio_queue *q;
    struct kicker k = { 0 };
    struct wk_req r;
    pthread_t th;
    uint16_t id;
    uint32_t len;

    t->f[0] = fx_new(64, false, false, false);
    make_workers(t, 1, false, 0, "wkt");
    make_echo(t, 1, &spy_ops);
    q = vq_queue(t, 0, 0, 0);
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, -1, &k.wq), 0);
    wk_add(t->f[0], 0, out, 1, in, 1, false, 9, &r);
    assert_false(wk_used_within(t->f[0], 0, 20));

    k.w = t->w;
    assert_int_equal(pthread_create(&th, NULL, kick_thread, &k), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(k.ret, 0);
    wk_wait_used(t->f[0], 0, &id, &len);
    assert_int_equal(id, r.id);
    wk_check(t->f[0], &r, len);
    assert_true(pthread_equal(t->spy.kick_thread[0], t->spy.start_thread[0]));
    assert_false(pthread_equal(t->spy.kick_thread[0], k.self));
    vdev_workers_stop(t->w, k.wq);
}

/* --- poll mode ------------------------------------------------------------ */

/* Poll mode serves requests the driver never kicks for, with kicks turned off
 * in the ring while it spins; after poll_idle_us without work it asks for kicks
 * again and sleeps (a request then waits for its kick); a kick wakes it. */
static void poll_serves(void **state, bool packed)
{
    struct tfx *t = *state;
    static const uint32_t out[] = { 40, 2 }, in[] = { 64 };
    struct vdev_virtio_queue *q;
    struct vdev_worker_queue *wq;
    struct wk_req r;
    uint16_t id;
    uint32_t len;
    uint64_t served_at;

    t->f[0] = fx_new(64, packed, false, false);
    make_workers(t, 1, true, 200000, "wkp");
    make_echo(t, 1, &spy_ops);
    t->kick[0] = wk_eventfd();
    q = vq_queue(t, 0, 0, 0);
    assert_true(wk_kicks_enabled(t->f[0], 0));
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, t->kick[0], &wq), 0);
    assert_true(WK_WAIT(!wk_kicks_enabled(t->f[0], 0), WK_WAIT_MS));

    for (int i = 0; i < 3; i++) {           /* no kick, ever */
        wk_add(t->f[0], 0, out, 2, in, 1, false, (uint8_t)i, &r);
        assert_false(vdev_vqd_kick_prepare(t->f[0]->q[0].drv));
        wk_wait_used(t->f[0], 0, &id, &len);
        assert_int_equal(id, r.id);
        wk_check(t->f[0], &r, len);
    }
    served_at = wk_now_ns();
    assert_true(WK_WAIT(wk_kicks_enabled(t->f[0], 0), WK_WAIT_MS));
    assert_true(wk_now_ns() - served_at >= 150 * 1000000ull);

    wk_add(t->f[0], 0, out, 2, in, 1, false, 7, &r);       /* asleep: waits */
    assert_false(wk_used_within(t->f[0], 0, 30));
    assert_true(wk_kick(t->f[0], 0, t->kick[0]));
    wk_wait_used(t->f[0], 0, &id, &len);
    wk_check(t->f[0], &r, len);
    assert_true(WK_WAIT(!wk_kicks_enabled(t->f[0], 0), WK_WAIT_MS));  /* spinning */
    vdev_workers_stop(t->w, wq);
    assert_true(wk_kicks_enabled(t->f[0], 0));  /* given back with kicks on */
}

static void test_poll_serves_split(void **state)
{
    poll_serves(state, false);
}

static void test_poll_serves_packed(void **state)
{
    poll_serves(state, true);
}

/* A device with queue_poll is polled, never kicked, in poll mode; once idle the
 * worker stops polling; with poll_idle_us 0 it never stops. */
static void poll_uses_queue_poll(void **state, uint32_t idle_us)
{
    struct tfx *t = *state;
    struct vdev_virtio_queue *q;
    struct vdev_worker_queue *wq;
    int polls;

    t->f[0] = fx_new(64, false, false, false);
    make_workers(t, 1, true, idle_us, "wkp");
    make_echo(t, 1, &spy_poll_ops);
    q = vq_queue(t, 0, 0, 0);
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, -1, &wq), 0);
    assert_true(WK_WAIT(atomic_load(&t->spy.polls) > 100, WK_WAIT_MS));
    if (idle_us) {
        assert_true(WK_WAIT(wk_kicks_enabled(t->f[0], 0), WK_WAIT_MS));
        polls = atomic_load(&t->spy.polls);
        wk_sleep_ms(50);
        assert_int_equal(atomic_load(&t->spy.polls), polls);
        assert_int_equal(vdev_workers_kick(t->w, wq), 0);     /* wakes it */
        assert_true(WK_WAIT(atomic_load(&t->spy.polls) > polls, WK_WAIT_MS));
    } else {
        wk_sleep_ms(100);                   /* far past any idle time */
        assert_false(wk_kicks_enabled(t->f[0], 0));
        polls = atomic_load(&t->spy.polls);
        assert_true(WK_WAIT(atomic_load(&t->spy.polls) > polls, WK_WAIT_MS));
    }
    assert_int_equal(atomic_load(&t->spy.kicks), 0);
    vdev_workers_stop(t->w, wq);
}

static void test_poll_sleeps_when_idle(void **state)
{
    poll_uses_queue_poll(state, 20000);
}

static void test_poll_idle_zero_spins(void **state)
{
    poll_uses_queue_poll(state, 0);
}

/* --- what a peer can do ---------------------------------------------------- */

/* A kick fd that reports end of file forever (a pipe whose writer is gone) is
 * dropped instead of spinning the worker; in-band kicks still work. A blocking
 * kick fd is made non-blocking. */
static void test_dead_kick_fd(void **state)
{
    struct tfx *t = *state;
    struct vdev_virtio_queue *q = bare_queue(t, 0);
    struct vdev_worker_queue *wq;
    int p[2], kicks;

    make_workers(t, 1, false, 0, "wkt");
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    close(p[1]);
    t->kick[0] = p[0];
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, p[0], &wq), 0);
    assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    wk_sleep_ms(100);
    assert_true(atomic_load(&t->spy.kicks) <= 2);      /* the start's, the HUP's */
    kicks = atomic_load(&t->spy.kicks);
    assert_int_equal(vdev_workers_kick(t->w, wq), 0);
    assert_true(WK_WAIT(atomic_load(&t->spy.kicks) == kicks + 1, WK_WAIT_MS));
    vdev_workers_stop(t->w, wq);
}

static int errors_logged;

static void count_errors(enum vdev_log_level level, const char *line, void *opaque)
{
    if (level == VDEV_LOG_ERR)
        __atomic_fetch_add(&errors_logged, 1, __ATOMIC_SEQ_CST);
}

/* Freeing a set that still serves a queue stops that queue on its worker (and
 * says so) rather than leaving a callback behind. */
static void test_free_stops_leftover_queue(void **state)
{
    struct tfx *t = *state;
    struct vdev_virtio_queue *q = bare_queue(t, 0);
    struct vdev_worker_queue *wq;

    make_workers(t, 1, false, 0, "wkt");
    assert_int_equal(vdev_workers_start(t->w, 0, &t->spy.dev, q, -1, &wq), 0);
    vdev_log_set_handler(count_errors, NULL);
    vdev_workers_free(t->w);
    t->w = NULL;
    vdev_log_set_handler(NULL, NULL);
    assert_int_equal(atomic_load(&t->spy.stops), 1);
    assert_true(pthread_equal(t->spy.stop_thread[0], t->spy.start_thread[0]));
    assert_int_equal(__atomic_load_n(&errors_logged, __ATOMIC_SEQ_CST), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_and_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_on_worker_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_unwatchable_kick_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_serves_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_serves_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_queues_two_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_serves_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_for_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_from_other_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_serves_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_serves_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_sleeps_when_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_idle_zero_spins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_kick_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_stops_leftover_queue, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
