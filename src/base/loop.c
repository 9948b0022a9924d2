/* loop.c — the epoll event loop behind loop.h.
 *
 * Every watch is registered with epoll by its own address (data.ptr); the wake
 * eventfd is registered with NULL. A watch removed while a round is dispatching
 * is taken off epoll and marked at once, but freed only when the round ends: the
 * rest of the current epoll batch may still name it, and is skipped. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vdev/loop.h"

#define LOOP_BATCH 64
#define NSEC_PER_SEC 1000000000ull

struct vdev_watch {
    struct vdev_loop *loop;
    int fd;                     /* the caller's fd, or our own timerfd */
    bool is_timer;
    bool removed;
    vdev_fd_cb fd_cb;
    vdev_timer_cb timer_cb;
    void *opaque;
    struct vdev_watch *prev, *next;     /* live list, or dead list (next only) */
};

struct loop_call {
    vdev_call_cb fn;
    void *opaque;
    struct loop_call *next;
};

struct vdev_loop {
    int epfd;
    int wakefd;
    atomic_bool stop;
    unsigned dispatching;       /* depth of run_once calls on the loop thread */
    struct vdev_watch *live;
    struct vdev_watch *dead;

    pthread_mutex_t lock;       /* guards the call queue only */
    struct loop_call *calls_head;
    struct loop_call **calls_tail;
};

/* Async-signal-safe, and keeps errno for a signal handler's caller. */
static void loop_wake(struct vdev_loop *loop)
{
    int saved = errno;
    uint64_t one = 1;
    ssize_t r;

    /* A full counter (EAGAIN) still means the loop is awake. */
    do {
        r = write(loop->wakefd, &one, sizeof(one));
    } while (r < 0 && errno == EINTR);
    errno = saved;
}

int vdev_loop_new(struct vdev_loop **out)
{
    struct vdev_loop *loop;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    int ret;

    if (!out)
        return -EINVAL;
    loop = calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    loop->epfd = -1;
    loop->wakefd = -1;
    atomic_init(&loop->stop, false);
    loop->calls_tail = &loop->calls_head;

    ret = -pthread_mutex_init(&loop->lock, NULL);
    if (ret < 0) {
        free(loop);
        return ret;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail;
    loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->wakefd < 0)
        goto fail;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
        goto fail;
    *out = loop;
    return 0;

fail:
    ret = -errno;
    vdev_loop_free(loop);
    return ret;
}

static void watch_link(struct vdev_loop *loop, struct vdev_watch *w)
{
    w->prev = NULL;
    w->next = loop->live;
    if (loop->live)
        loop->live->prev = w;
    loop->live = w;
}

static void watch_unlink(struct vdev_loop *loop, struct vdev_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        loop->live = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void free_dead(struct vdev_loop *loop)
{
    while (loop->dead) {
        struct vdev_watch *w = loop->dead;

        loop->dead = w->next;
        free(w);
    }
}

void vdev_loop_free(struct vdev_loop *loop)
{
    struct loop_call *c;

    if (!loop)
        return;
    while (loop->live) {
        struct vdev_watch *w = loop->live;

        watch_unlink(loop, w);
        if (w->is_timer)
            close(w->fd);
        free(w);
    }
    free_dead(loop);
    /* Calls still queued are dropped without running. */
    while ((c = loop->calls_head) != NULL) {
        loop->calls_head = c->next;
        free(c);
    }
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}

static int watch_register(struct vdev_loop *loop, struct vdev_watch *w,
                          uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };

    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
        return -errno;
    watch_link(loop, w);
    return 0;
}

int vdev_loop_add_fd(struct vdev_loop *loop, int fd, uint32_t events,
                     vdev_fd_cb cb, void *opaque, struct vdev_watch **out)
{
    struct vdev_watch *w;
    int ret;

    if (!loop || fd < 0 || !cb)
        return -EINVAL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->loop = loop;
    w->fd = fd;
    w->fd_cb = cb;
    w->opaque = opaque;
    /* epoll itself refuses a second registration of the same fd: -EEXIST. */
    ret = watch_register(loop, w, events);
    if (ret < 0) {
        free(w);
        return ret;
    }
    if (out)
        *out = w;
    return 0;
}

int vdev_loop_mod_fd(struct vdev_watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };

    if (!w || w->is_timer || w->removed)
        return -EINVAL;
    if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
        return -errno;
    return 0;
}

static struct timespec ns_to_timespec(uint64_t ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(ns / NSEC_PER_SEC),
        .tv_nsec = (long)(ns % NSEC_PER_SEC),
    };
    return ts;
}

int vdev_loop_add_timer(struct vdev_loop *loop, uint64_t first_ns,
                        uint64_t interval_ns, vdev_timer_cb cb, void *opaque,
                        struct vdev_watch **out)
{
    struct itimerspec its;
    struct vdev_watch *w;
    int ret;

    if (!loop || !cb)
        return -EINVAL;
    /* An it_value of zero would disarm the timerfd; 0 means "as soon as can be". */
    its.it_value = ns_to_timespec(first_ns ? first_ns : 1);
    its.it_interval = ns_to_timespec(interval_ns);

    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->loop = loop;
    w->is_timer = true;
    w->timer_cb = cb;
    w->opaque = opaque;
    w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->fd < 0) {
        ret = -errno;
        free(w);
        return ret;
    }
    if (timerfd_settime(w->fd, 0, &its, NULL) < 0) {
        ret = -errno;
        goto fail;
    }
    ret = watch_register(loop, w, EPOLLIN);
    if (ret < 0)
        goto fail;
    if (out)
        *out = w;
    return 0;

fail:
    close(w->fd);
    free(w);
    return ret;
}

void vdev_loop_remove(struct vdev_watch *w)
{
    struct vdev_loop *loop;

    if (!w || w->removed)
        return;
    loop = w->loop;
    w->removed = true;
    /* DEL fails only if the caller closed the fd first; nothing is left to undo. */
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    if (w->is_timer)
        close(w->fd);
    w->fd = -1;
    watch_unlink(loop, w);
    if (loop->dispatching) {
        w->next = loop->dead;
        loop->dead = w;
    } else {
        free(w);
    }
}

/* Runs the calls queued so far; calls queued while they run wait for the next
 * round, so a call that queues another cannot starve the loop. */
static int run_calls(struct vdev_loop *loop)
{
    struct loop_call *c;
    uint64_t cnt;
    int n = 0;

    while (read(loop->wakefd, &cnt, sizeof(cnt)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&loop->lock);
    c = loop->calls_head;
    loop->calls_head = NULL;
    loop->calls_tail = &loop->calls_head;
    pthread_mutex_unlock(&loop->lock);

    while (c) {
        struct loop_call *next = c->next;

        c->fn(c->opaque);
        free(c);
        c = next;
        n++;
    }
    return n;
}

static int dispatch_timer(struct vdev_watch *w)
{
    uint64_t expirations;
    ssize_t r;

    do {
        r = read(w->fd, &expirations, sizeof(expirations));
    } while (r < 0 && errno == EINTR);
    if (r != (ssize_t)sizeof(expirations))
        return 0;       /* spurious (EAGAIN): nothing expired */
    /* Ticks missed while the loop was busy are folded into this one call. */
    w->timer_cb(w->opaque);
    return 1;
}

static int dispatch(struct vdev_loop *loop, const struct epoll_event *evs, int n)
{
    int ran = 0;

    for (int i = 0; i < n; i++) {
        struct vdev_watch *w = evs[i].data.ptr;

        if (!w) {
            ran += run_calls(loop);
            continue;
        }
        if (w->removed)
            continue;
        if (w->is_timer) {
            ran += dispatch_timer(w);
        } else {
            w->fd_cb(w->opaque, evs[i].events);
            ran++;
        }
    }
    return ran;
}

int vdev_loop_run_once(struct vdev_loop *loop, int timeout_ms)
{
    struct epoll_event evs[LOOP_BATCH];
    int n, ran;

    if (!loop)
        return -EINVAL;
    n = epoll_wait(loop->epfd, evs, LOOP_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;

    loop->dispatching++;
    ran = dispatch(loop, evs, n);
    if (--loop->dispatching == 0)
        free_dead(loop);
    return ran;
}

int vdev_loop_run(struct vdev_loop *loop)
{
    if (!loop)
        return -EINVAL;
    /* A stop that came before run() is not lost; it is consumed here. */
    while (!atomic_exchange(&loop->stop, false)) {
        int ret = vdev_loop_run_once(loop, -1);

        if (ret < 0)
            return ret;
    }
    return 0;
}

void vdev_loop_stop(struct vdev_loop *loop)
{
    if (!loop)
        return;
    atomic_store(&loop->stop, true);
    loop_wake(loop);
}

int vdev_loop_call(struct vdev_loop *loop, vdev_call_cb fn, void *opaque)
{
    struct loop_call *c;

    if (!loop || !fn)
        return -EINVAL;
    c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->fn = fn;
    c->opaque = opaque;
    c->next = NULL;

    pthread_mutex_lock(&loop->lock);
    *loop->calls_tail = c;
    loop->calls_tail = &c->next;
    pthread_mutex_unlock(&loop->lock);
    loop_wake(loop);
    return 0;
}
