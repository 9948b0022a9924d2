/* The event loop: fd watches and their events, removal from inside callbacks,
 * timers, stop and calls from another thread, and no fd left open. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "vdev/loop.h"
#include "helpers.h"

#define MS (1000ull * 1000)

struct fixture {
    struct vdev_loop *loop;
    int sv[2][2];           /* two socketpairs, made on demand */
    int fds_before;
};

/* What a callback saw, and what it should do to the loop. */
struct rec {
    int calls;
    uint32_t events;
    struct vdev_loop *loop;
    struct vdev_watch *self;        /* removed by the callback if remove_self */
    struct vdev_watch *other;       /* removed by the callback if set */
    bool remove_self;
    int readd_fd;                   /* >= 0: add a new watch on it (after removal) */
    struct rec *readd_rec;
    int readd_ret;
};

static int setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    memset(f.sv, -1, sizeof(f.sv));
    alarm(30);      /* a call that hangs kills the program now, not at meson's timeout */
    f.fds_before = test_count_fds();
    assert_int_equal(vdev_loop_new(&f.loop), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    vdev_loop_free(f->loop);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (f->sv[i][j] >= 0)
                close(f->sv[i][j]);
    assert_no_fd_leak(f->fds_before);
    alarm(0);
    return 0;
}

static int *pair(struct fixture *f, int i)
{
    test_socketpair(f->sv[i]);
    return f->sv[i];
}

static void put_byte(int fd)
{
    assert_int_equal(write(fd, "x", 1), 1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void rec_init(struct rec *r, struct vdev_loop *loop)
{
    memset(r, 0, sizeof(*r));
    r->loop = loop;
    r->readd_fd = -1;
}

static void on_fd(void *opaque, uint32_t events)
{
    struct rec *r = opaque;

    r->calls++;
    r->events = events;
    if (r->other)
        vdev_loop_remove(r->other);
    if (r->remove_self)
        vdev_loop_remove(r->self);
    if (r->readd_fd >= 0)
        r->readd_ret = vdev_loop_add_fd(r->loop, r->readd_fd, EPOLLIN, on_fd,
                                        r->readd_rec, NULL);
}

static void on_timer(void *opaque)
{
    struct rec *r = opaque;

    r->calls++;
    if (r->remove_self)
        vdev_loop_remove(r->self);
}

/* A watched socket reports EPOLLIN when, and only when, a byte is waiting. */
static void test_fd_watch_readable(void **state)
{
    struct fixture *f = *state;
    int *sv = pair(f, 0);
    struct rec r;

    rec_init(&r, f->loop);
    assert_int_equal(vdev_loop_add_fd(f->loop, sv[0], EPOLLIN, on_fd, &r, NULL), 0);
    assert_int_equal(vdev_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 0);

    put_byte(sv[1]);
    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_int_equal(r.calls, 1);
    assert_true(r.events & EPOLLIN);
    assert_false(r.events & EPOLLOUT);
}

/* mod_fd changes what is watched: EPOLLOUT fires on a writable socket, and
 * switching back to EPOLLIN on an empty one goes quiet. */
static void test_mod_fd(void **state)
{
    struct fixture *f = *state;
    int *sv = pair(f, 0);
    struct vdev_watch *w;
    struct rec r;

    rec_init(&r, f->loop);
    assert_int_equal(vdev_loop_add_fd(f->loop, sv[0], EPOLLIN, on_fd, &r, &w), 0);
    assert_int_equal(vdev_loop_run_once(f->loop, 0), 0);

    assert_int_equal(vdev_loop_mod_fd(w, EPOLLOUT), 0);
    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_true(r.events & EPOLLOUT);
    assert_false(r.events & EPOLLIN);

    assert_int_equal(vdev_loop_mod_fd(w, EPOLLIN), 0);
    assert_int_equal(vdev_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 1);
}

/* A timer has no events to change. */
static void test_mod_fd_on_timer(void **state)
{
    struct fixture *f = *state;
    struct vdev_watch *t;
    struct rec r;

    rec_init(&r, f->loop);
    assert_int_equal(vdev_loop_add_timer(f->loop, 1000 * MS, 0, on_timer, &r, &t), 0);
    assert_int_equal(vdev_loop_mod_fd(t, EPOLLOUT), -EINVAL);
}

/* A second watch on the same fd is refused, and the first still works. */
static void test_duplicate_fd(void **state)
{
    struct fixture *f = *state;
    int *sv = pair(f, 0);
    struct rec r1, r2;

    rec_init(&r1, f->loop);
    rec_init(&r2, f->loop);
    assert_int_equal(vdev_loop_add_fd(f->loop, sv[0], EPOLLIN, on_fd, &r1, NULL), 0);
    assert_int_equal(vdev_loop_add_fd(f->loop, sv[0], EPOLLOUT, on_fd, &r2, NULL),
                     -EEXIST);
    put_byte(sv[1]);
    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_int_equal(r1.calls, 1);
    assert_int_equal(r2.calls, 0);
}

/* A callback that removes its own watch is not called again, though its fd
 * stays readable. */
static void test_remove_self_in_callback(void **state)
{
    struct fixture *f = *state;
    int *sv = pair(f, 0);
    struct rec r;

    rec_init(&r, f->loop);
    r.remove_self = true;
    assert_int_equal(vdev_loop_add_fd(f->loop, sv[0], EPOLLIN, on_fd, &r, &r.self), 0);
    put_byte(sv[1]);
    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_int_equal(vdev_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 1);
}

/* Two watches ready in the same round, each removing the other: whichever runs
 * first removes the second, which then must not run in that round. */
static void test_remove_other_ready_in_same_round(void **state)
{
    struct fixture *f = *state;
    int *a = pair(f, 0), *b = pair(f, 1);
    struct vdev_watch *wa, *wb;
    struct rec ra, rb;

    rec_init(&ra, f->loop);
    rec_init(&rb, f->loop);
    assert_int_equal(vdev_loop_add_fd(f->loop, a[0], EPOLLIN, on_fd, &ra, &wa), 0);
    assert_int_equal(vdev_loop_add_fd(f->loop, b[0], EPOLLIN, on_fd, &rb, &wb), 0);
    ra.other = wb;
    rb.other = wa;
    put_byte(a[1]);
    put_byte(b[1]);

    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_int_equal(ra.calls + rb.calls, 1);
    /* The survivor is still watched (its byte is unread); the other is gone. */
    ra.other = rb.other = NULL;
    assert_int_equal(vdev_loop_run_once(f->loop, 0), 1);
    assert_int_equal(ra.calls + rb.calls, 2);
    assert_true(ra.calls == 2 || rb.calls == 2);
}

/* A callback may remove its watch and watch the same fd again at once: the fd is
 * no longer registered (no -EEXIST), and the new watch fires from the next round. */
static void test_remove_and_readd_in_callback(void **state)
{
    struct fixture *f = *state;
    int *sv = pair(f, 0);
    struct rec r, r2;

    rec_init(&r, f->loop);
    rec_init(&r2, f->loop);
    r.remove_self = true;
    r.readd_fd = sv[0];
    r.readd_rec = &r2;
    assert_int_equal(vdev_loop_add_fd(f->loop, sv[0], EPOLLIN, on_fd, &r, &r.self), 0);
    put_byte(sv[1]);

    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_int_equal(r.readd_ret, 0);
    assert_int_equal(r2.calls, 0);
    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r2.calls, 1);
}

/* A one-shot timer fires once, not before its time, and never again. */
static void test_timer_oneshot(void **state)
{
    struct fixture *f = *state;
    uint64_t t0 = now_ns();
    struct rec r;

    rec_init(&r, f->loop);
    assert_int_equal(vdev_loop_add_timer(f->loop, 20 * MS, 0, on_timer, &r, NULL), 0);
    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_true(now_ns() - t0 >= 20 * MS);
    assert_int_equal(vdev_loop_run_once(f->loop, 60), 0);
    assert_int_equal(r.calls, 1);
}

/* A periodic timer keeps firing at its interval. */
static void test_timer_periodic(void **state)
{
    struct fixture *f = *state;
    uint64_t t0 = now_ns();
    struct rec r;

    rec_init(&r, f->loop);
    assert_int_equal(vdev_loop_add_timer(f->loop, 10 * MS, 10 * MS, on_timer, &r,
                                         NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_int_equal(r.calls, 3);
    assert_true(now_ns() - t0 >= 30 * MS);
}

/* first_ns 0 means "now", not a disarmed timerfd. */
static void test_timer_zero_first(void **state)
{
    struct fixture *f = *state;
    struct rec r;

    rec_init(&r, f->loop);
    assert_int_equal(vdev_loop_add_timer(f->loop, 0, 0, on_timer, &r, NULL), 0);
    assert_int_equal(vdev_loop_run_once(f->loop, 500), 1);
    assert_int_equal(r.calls, 1);
}

/* A periodic timer that removes itself stops, and its timerfd is closed then,
 * not when the loop is freed. */
static void test_timer_remove_in_own_callback(void **state)
{
    struct fixture *f = *state;
    int before = test_count_fds();
    struct rec r;

    rec_init(&r, f->loop);
    r.remove_self = true;
    assert_int_equal(vdev_loop_add_timer(f->loop, 5 * MS, 5 * MS, on_timer, &r,
                                         &r.self), 0);
    assert_int_equal(vdev_loop_run_once(f->loop, 1000), 1);
    assert_int_equal(vdev_loop_run_once(f->loop, 50), 0);
    assert_int_equal(r.calls, 1);
    assert_no_fd_leak(before);
}

static void *stop_later(void *arg)
{
    usleep(50 * 1000);
    vdev_loop_stop(arg);
    return NULL;
}

/* vdev_loop_stop() from another thread wakes a loop blocked with nothing to do. */
static void test_stop_from_thread(void **state)
{
    struct fixture *f = *state;
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, stop_later, f->loop), 0);
    assert_int_equal(vdev_loop_run(f->loop), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* A stop that comes before run() is not lost. */
static void test_stop_before_run(void **state)
{
    struct fixture *f = *state;

    vdev_loop_stop(f->loop);
    assert_int_equal(vdev_loop_run(f->loop), 0);
}

#define NCALLS 1000

struct calls {
    struct vdev_loop *loop;
    pthread_t loop_thread;
    int seen[NCALLS];
    int n;
    bool wrong_thread;
};

static struct calls g_calls;

static void record_call(void *opaque)
{
    if (!pthread_equal(pthread_self(), g_calls.loop_thread))
        g_calls.wrong_thread = true;
    if (g_calls.n < NCALLS)
        g_calls.seen[g_calls.n] = (int)(intptr_t)opaque;
    g_calls.n++;
}

static void stop_call(void *opaque)
{
    vdev_loop_stop(opaque);
}

static void *queue_calls(void *arg)
{
    struct calls *c = arg;

    for (int i = 0; i < NCALLS; i++) {
        if (vdev_loop_call(c->loop, record_call, (void *)(intptr_t)i) != 0)
            return (void *)1;
        if (i % 100 == 0)
            usleep(1000);   /* let the loop run some while more are queued */
    }
    return vdev_loop_call(c->loop, stop_call, c->loop) == 0 ? NULL : (void *)1;
}

/* Calls queued from another thread all run, on the loop's thread, in order. */
static void test_call_from_thread_in_order(void **state)
{
    struct fixture *f = *state;
    pthread_t t;
    void *res;

    memset(&g_calls, 0, sizeof(g_calls));
    g_calls.loop = f->loop;
    g_calls.loop_thread = pthread_self();
    assert_int_equal(pthread_create(&t, NULL, queue_calls, &g_calls), 0);
    assert_int_equal(vdev_loop_run(f->loop), 0);
    assert_int_equal(pthread_join(t, &res), 0);

    assert_null(res);
    assert_int_equal(g_calls.n, NCALLS);
    assert_false(g_calls.wrong_thread);
    for (int i = 0; i < NCALLS; i++)
        assert_int_equal(g_calls.seen[i], i);
}

static void must_not_run(void *opaque)
{
    *(bool *)opaque = true;
}

/* Freeing a loop with an fd watch, a timer and a queued call still on it closes
 * the loop's own fds (timerfd included), frees every watch, runs no call and
 * leaves the caller's fd open. */
static void test_free_with_watches(void **state)
{
    struct fixture *f = *state;
    int *sv = pair(f, 0);
    int before = test_count_fds();
    bool ran = false;
    struct rec r;

    rec_init(&r, f->loop);
    assert_int_equal(vdev_loop_add_fd(f->loop, sv[0], EPOLLIN, on_fd, &r, NULL), 0);
    assert_int_equal(vdev_loop_add_timer(f->loop, 1000 * MS, 1000 * MS, on_timer, &r,
                                         NULL), 0);
    assert_int_equal(vdev_loop_call(f->loop, must_not_run, &ran), 0);
    assert_int_equal(test_count_fds(), before + 1);

    vdev_loop_free(f->loop);
    f->loop = NULL;
    assert_no_fd_leak(before - 2);      /* the epoll fd and the wake eventfd */
    assert_false(ran);
    assert_true(fcntl(sv[0], F_GETFD) >= 0);
}

/* new then free leaves no fd open. */
static void test_new_free_no_leak(void **state)
{
    struct vdev_loop *loop;
    int before = test_count_fds();

    (void)state;
    assert_int_equal(vdev_loop_new(&loop), 0);
    assert_int_equal(test_count_fds(), before + 2);
    vdev_loop_free(loop);
    assert_no_fd_leak(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_fd_watch_readable),
        T(test_mod_fd),
        T(test_mod_fd_on_timer),
        T(test_duplicate_fd),
        T(test_remove_self_in_callback),
        T(test_remove_other_ready_in_same_round),
        T(test_remove_and_readd_in_callback),
        T(test_timer_oneshot),
        T(test_timer_periodic),
        T(test_timer_zero_first),
        T(test_timer_remove_in_own_callback),
        T(test_stop_from_thread),
        T(test_stop_before_run),
        T(test_call_from_thread_in_order),
        T(test_free_with_watches),
        cmocka_unit_test(test_new_free_no_leak),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
