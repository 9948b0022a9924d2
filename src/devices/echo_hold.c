/* echo_hold.c — the echo device's hold mode (dev_echo.h): popped requests wait
 * for releases before they are completed.
 *
 * Each queue keeps its own held requests; the releases are one atomic counter
 * for the device. vdev_echo_release() adds to it and writes every queue's
 * eventfd, so each queue's worker completes what it holds on its own thread. A
 * release that comes before the request is kept for it: nothing is lost to the
 * race between a pop and a release. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vdev/log.h"
#include "echo_internal.h"

static bool take_credit(struct echo *e)
{
    uint64_t c = atomic_load(&e->credits);

    while (c && !atomic_compare_exchange_weak(&e->credits, &c, c - 1))
        ;
    return c != 0;
}

static struct echo_held *unlink_oldest(struct echo_queue *eq)
{
    struct echo_held *h = eq->held;

    eq->held = h->next;
    if (!eq->held)
        eq->held_tail = &eq->held;
    atomic_fetch_sub(&eq->e->held, 1);
    return h;
}

int echo_release_held(struct echo_queue *eq)
{
    int n = 0;

    while (eq->held && take_credit(eq->e)) {
        struct echo_held *h = unlink_oldest(eq);

        echo_complete(eq, &h->req);
        free(h);
        n++;
    }
    return n;
}

/* Keeps a copy of eq->req and its iovecs; without memory for it, completes it
 * at once rather than losing it. */
void echo_hold(struct echo_queue *eq)
{
    const struct vdev_vq_req *r = &eq->req;
    uint32_t n = r->n_out + r->n_in;
    size_t each = sizeof(*r->iov) + sizeof(*r->iov_gpa);
    struct echo_held *h = malloc(sizeof(*h) + n * each);

    if (!h) {
        vdev_warn("echo: queue %u: no memory to hold a request", eq->q->index);
        echo_complete(eq, r);
        return;
    }
    h->next = NULL;
    h->req = *r;
    h->req.iov = memcpy(h + 1, r->iov, n * sizeof(struct iovec));
    h->req.iov_gpa = memcpy(h->req.iov + n, r->iov_gpa, n * sizeof(uint64_t));
    h->req.iov_cap = n;
    *eq->held_tail = h;
    eq->held_tail = &h->next;
    atomic_fetch_add(&eq->e->held, 1);
}

static void on_release(void *opaque, uint32_t events)
{
    struct echo_queue *eq = opaque;
    uint64_t cnt;

    if (read(eq->release_fd, &cnt, sizeof(cnt)) == (ssize_t)sizeof(cnt))
        echo_serve(eq);
}

int echo_hold_start(struct echo_queue *eq)
{
    return vdev_loop_add_fd(eq->q->loop, eq->release_fd, EPOLLIN, on_release, eq,
                            &eq->watch);
}

/* What is released completes; the rest is cancelled: never pushed, it stays in
 * flight for the driver (and for an inflight record). */
void echo_hold_stop(struct echo_queue *eq)
{
    if (echo_release_held(eq))
        vdev_vq_notify(eq->q->vq);
    while (eq->held)
        free(unlink_oldest(eq));
    vdev_loop_remove(eq->watch);
    eq->watch = NULL;
}

void echo_release(struct echo *e, uint32_t n)
{
    uint64_t one = 1;

    atomic_fetch_add(&e->credits, n);
    for (unsigned i = 0; i < e->num_queues; i++)
        if (write(e->q[i].release_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            vdev_warn("echo: queue %u: cannot wake its worker: %s", i,
                      vdev_strerror(-errno));
}
