/* workers.c — worker threads that serve virtqueues (workers.h).
 *
 * Each worker is a thread running its own event loop. Everything that touches a
 * queue runs on that thread: the control thread hands start and stop over with
 * vdev_loop_call() and waits on a completion for the worker to finish them, so
 * no lock is shared with the data path. Poll mode lives in workers_poll.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "vdev/log.h"
#include "workers_internal.h"

/* A piece of work run on a worker's thread while the caller waits. */
struct op {
    struct vdev_worker_queue *wq;
    int ret;
    bool done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void op_finish(struct op *op, int ret)
{
    pthread_mutex_lock(&op->lock);
    op->ret = ret;
    op->done = true;
    pthread_cond_signal(&op->cond);
    pthread_mutex_unlock(&op->lock);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

    nanosleep(&ts, NULL);
}

/* Runs fn(op) on w's thread and waits for op_finish(). From the worker's own
 * thread (a device's callback), fn runs at once. must: retry while the loop
 * cannot queue the call (out of memory), for work that may not fail. */
static int op_run(struct worker *w, vdev_call_cb fn, struct op *op, bool must)
{
    int ret;

    pthread_mutex_init(&op->lock, NULL);
    pthread_cond_init(&op->cond, NULL);
    op->done = false;
    if (w->thread_started && pthread_equal(pthread_self(), w->thread)) {
        fn(op);
    } else {
        while ((ret = vdev_loop_call(w->loop, fn, op)) < 0 && must) {
            vdev_warn("workers: %s: cannot hand work over (%s), retrying", w->name,
                      vdev_strerror(ret));
            sleep_ms(1);
        }
        if (ret < 0)
            op_finish(op, ret);
    }
    pthread_mutex_lock(&op->lock);
    while (!op->done)
        pthread_cond_wait(&op->cond, &op->lock);
    ret = op->ret;
    pthread_mutex_unlock(&op->lock);
    pthread_cond_destroy(&op->cond);
    pthread_mutex_destroy(&op->lock);
    return ret;
}

/* --- kicks, on the worker ------------------------------------------------- */

static void queue_kicked(struct vdev_worker_queue *wq)
{
    if (wq->w->set->poll)
        worker_poll_wake(wq->w);       /* the next round polls every queue */
    else
        wq->dev->ops->queue_kick(wq->dev->priv, wq->q);
}

/* The kick fd is the peer's: one read per wake-up, never a loop that could
 * block, and an fd that reports end of file or an error forever (a pipe whose
 * writer is gone) is dropped instead of spinning the worker. */
static void on_kick(void *opaque, uint32_t events)
{
    struct vdev_worker_queue *wq = opaque;
    uint64_t cnt;
    ssize_t n = read(wq->kick_fd, &cnt, sizeof(cnt));
    bool dead = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
                (n < 0 && (events & (EPOLLERR | EPOLLHUP)));

    if (dead) {
        vdev_warn("workers: %s: queue %u: kick fd %d is unusable, no longer watched",
                  wq->w->name, wq->q->index, wq->kick_fd);
        vdev_loop_remove(wq->watch);
        wq->watch = NULL;
    }
    queue_kicked(wq);
}

static void on_inband_kick(void *opaque)
{
    struct vdev_worker_queue *wq = opaque;

    atomic_store(&wq->kick_pending, false);
    queue_kicked(wq);
}

int vdev_workers_kick(struct vdev_workers *w, struct vdev_worker_queue *wq)
{
    int ret;

    if (!w || !wq)
        return -EINVAL;
    /* Kicks not yet seen by the worker fold into one. */
    if (atomic_exchange(&wq->kick_pending, true))
        return 0;
    ret = vdev_loop_call(wq->w->loop, on_inband_kick, wq);
    if (ret < 0)
        atomic_store(&wq->kick_pending, false);
    return ret;
}

/* --- start and stop, on the worker ----------------------------------------- */

static void link_queue(struct worker *w, struct vdev_worker_queue *wq)
{
    wq->prev = NULL;
    wq->next = w->queues;
    if (w->queues)
        w->queues->prev = wq;
    w->queues = wq;
}

static void unlink_queue(struct worker *w, struct vdev_worker_queue *wq)
{
    if (wq->prev)
        wq->prev->next = wq->next;
    else
        w->queues = wq->next;
    if (wq->next)
        wq->next->prev = wq->prev;
    wq->prev = wq->next = NULL;
}

static void start_on_worker(void *opaque)
{
    struct op *op = opaque;
    struct vdev_worker_queue *wq = op->wq;
    struct worker *w = wq->w;
    int ret = wq->dev->ops->queue_start(wq->dev->priv, wq->q);

    if (ret < 0) {
        op_finish(op, ret);
        return;
    }
    if (wq->kick_fd >= 0) {
        ret = vdev_loop_add_fd(w->loop, wq->kick_fd, EPOLLIN, on_kick, wq, &wq->watch);
        if (ret < 0) {
            wq->dev->ops->queue_stop(wq->dev->priv, wq->q);
            op_finish(op, ret);
            return;
        }
    }
    link_queue(w, wq);
    /* Serve what the driver made available before the queue was ours (a
     * reconnect): it may never kick for it again. */
    if (w->set->poll)
        worker_poll_add(w, wq);
    else
        wq->dev->ops->queue_kick(wq->dev->priv, wq->q);
    op_finish(op, 0);
}

/* Takes wq off its worker; on the worker thread. */
static void detach(struct worker *w, struct vdev_worker_queue *wq)
{
    if (wq->watch)
        vdev_loop_remove(wq->watch);
    wq->watch = NULL;
    unlink_queue(w, wq);
    if (w->set->poll)
        worker_poll_remove(w, wq);
    wq->dev->ops->queue_stop(wq->dev->priv, wq->q);
}

static void stop_on_worker(void *opaque)
{
    struct op *op = opaque;

    detach(op->wq->w, op->wq);
    op_finish(op, 0);
}

/* Makes the kick fd non-blocking: it is shared with the peer, which could read
 * it between our wake-up and our read and leave the worker blocked for good. */
static int kick_fd_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

int vdev_workers_start(struct vdev_workers *w, unsigned worker,
                       struct vdev_virtio_dev *dev, struct vdev_virtio_queue *q,
                       int kick_fd, struct vdev_worker_queue **out)
{
    struct vdev_worker_queue *wq;
    struct op op = { 0 };
    int ret;

    if (!w || !dev || !dev->ops || !dev->ops->queue_start || !dev->ops->queue_kick ||
        !dev->ops->queue_stop || !q || !out || kick_fd < -1)
        return -EINVAL;
    if (kick_fd >= 0) {
        ret = kick_fd_nonblock(kick_fd);
        if (ret < 0)
            return ret;
    }
    wq = calloc(1, sizeof(*wq));
    if (!wq)
        return -ENOMEM;
    wq->w = &w->w[worker % w->count];
    wq->dev = dev;
    wq->q = q;
    wq->kick_fd = kick_fd;
    atomic_init(&wq->kick_pending, false);
    q->loop = wq->w->loop;

    op.wq = wq;
    ret = op_run(wq->w, start_on_worker, &op, false);
    if (ret < 0) {
        free(wq);
        return ret;
    }
    *out = wq;
    return 0;
}

void vdev_workers_stop(struct vdev_workers *w, struct vdev_worker_queue *wq)
{
    struct op op = { 0 };

    if (!w || !wq)
        return;
    op.wq = wq;
    op_run(wq->w, stop_on_worker, &op, true);
    free(wq);
}

/* --- the threads ------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    pthread_setname_np(pthread_self(), w->name);
    while (!atomic_load(&w->stop)) {
        int ret;

        if (w->polling) {
            worker_poll_round(w);
            continue;
        }
        ret = vdev_loop_run_once(w->loop, -1);
        if (ret < 0) {
            vdev_err("workers: %s: event loop: %s", w->name, vdev_strerror(ret));
            sleep_ms(1);
        }
    }
    /* The caller broke the contract; leave no device callback behind. */
    while (w->queues) {
        struct vdev_worker_queue *wq = w->queues;

        vdev_err("workers: %s: queue %u still served at exit, stopping it", w->name,
                 wq->q->index);
        detach(w, wq);
        free(wq);
    }
    return NULL;
}

/* "<name>-w<n>" in 15 characters: the name is cut, the suffix kept. */
static void worker_name(char out[16], const char *name, unsigned n)
{
    char suffix[16];
    int slen = snprintf(suffix, sizeof(suffix), "-w%u", n);
    size_t keep = 15 - (size_t)slen;

    if (!name)
        name = "vdev";
    if (strlen(name) < keep)
        keep = strlen(name);
    memcpy(out, name, keep);
    memcpy(out + keep, suffix, (size_t)slen + 1);
}

/* Workers take no asynchronous signal: those are the control thread's. The
 * synchronous ones stay deliverable (the memory guard catches SIGBUS). */
static int spawn(struct worker *w)
{
    sigset_t all, old;
    int ret;

    sigfillset(&all);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGTRAP);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ret = -pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret == 0)
        w->thread_started = true;
    return ret;
}

int vdev_workers_new(const struct vdev_workers_config *c, struct vdev_workers **out)
{
    struct vdev_workers *set;
    int ret = 0;

    if (!c || !out || c->threads == 0)
        return -EINVAL;
    set = calloc(1, sizeof(*set));
    if (!set)
        return -ENOMEM;
    set->poll = c->poll;
    set->poll_idle_us = c->poll_idle_us;
    set->w = calloc(c->threads, sizeof(*set->w));
    if (!set->w) {
        free(set);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < c->threads && ret == 0; i++) {
        struct worker *w = &set->w[i];

        set->count = i + 1;
        w->set = set;
        w->index = i;
        atomic_init(&w->stop, false);
        worker_name(w->name, c->name, i);
        ret = vdev_loop_new(&w->loop);
        if (ret == 0)
            ret = spawn(w);
    }
    if (ret < 0) {
        vdev_workers_free(set);
        return ret;
    }
    *out = set;
    return 0;
}

void vdev_workers_free(struct vdev_workers *set)
{
    if (!set)
        return;
    for (unsigned i = 0; i < set->count; i++) {
        atomic_store(&set->w[i].stop, true);
        if (set->w[i].loop)
            vdev_loop_stop(set->w[i].loop);
    }
    for (unsigned i = 0; i < set->count; i++) {
        if (set->w[i].thread_started)
            pthread_join(set->w[i].thread, NULL);
        vdev_loop_free(set->w[i].loop);
    }
    free(set->w);
    free(set);
}

unsigned vdev_workers_count(const struct vdev_workers *set)
{
    return set ? set->count : 0;
}
