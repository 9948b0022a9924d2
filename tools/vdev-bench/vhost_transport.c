/* vhost_transport.c — the job's transport over vhost-user: vdev's front-end
 * (vhost_user_client.h) shares a sealed memfd, sets the rings up, kicks the
 * kick eventfds and sleeps on the call eventfds. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "vdev/vhost_user_client.h"
#include "transport.h"

#define BIT(n) (1ull << (n))

struct vhost_transport {
    struct bench_transport t;      /* first: the job's view */
    struct vdev_vuc *c;
};

static struct vdev_vuc *vuc(struct bench_transport *t)
{
    return ((struct vhost_transport *)t)->c;
}

static int vh_read_config(struct bench_transport *t, uint32_t off, void *buf, uint32_t len)
{
    if (!(vdev_vuc_protocol_features(vuc(t)) & BIT(VDEV_VUC_PF_CONFIG)))
        return -EOPNOTSUPP;
    return vdev_vuc_get_config(vuc(t), off, buf, len);
}

static int vh_setup(struct bench_transport *t, uint64_t mem_bytes, uint16_t qsize,
                    unsigned nq)
{
    int ret = vdev_vuc_mem_add(vuc(t), mem_bytes, NULL);

    if (ret < 0) {
        fprintf(stderr, "vdev-bench: sharing memory: %s\n", vdev_strerror(ret));
        return ret;
    }
    for (unsigned i = 0; i < nq; i++) {
        ret = vdev_vuc_queue_setup(vuc(t), (uint16_t)i, qsize, 0);
        if (ret < 0) {
            fprintf(stderr, "vdev-bench: queue %u of %u entries: %s\n", i, qsize,
                    vdev_strerror(ret));
            return ret;
        }
    }
    return 0;
}

static int vh_alloc(struct bench_transport *t, uint64_t size, uint64_t align,
                    uint64_t *gpa, void **host)
{
    int ret = vdev_vuc_alloc(vuc(t), size, align, gpa);

    if (ret < 0)
        return ret;
    *host = vdev_vuc_host(vuc(t), *gpa, size);
    return *host ? 0 : -ENOMEM;
}

static int vh_submit(struct bench_transport *t, uint16_t q, const struct vdev_vqd_buf *out,
                     unsigned n_out, const struct vdev_vqd_buf *in, unsigned n_in,
                     bool indirect, uint16_t *id)
{
    return vdev_vuc_submit(vuc(t), q, out, n_out, in, n_in, indirect, id);
}

static int vh_kick(struct bench_transport *t, uint16_t q)
{
    int ret = vdev_vuc_kick(vuc(t), q);

    return ret < 0 ? ret : 0;
}

static int vh_reap(struct bench_transport *t, uint16_t q, uint16_t *id, uint32_t *len)
{
    return vdev_vuc_reap(vuc(t), q, id, len);
}

/* One queue: the client's own wait. Several: each busy queue's wait with no
 * timeout re-arms its call, then one poll over all their call eventfds. */
static int vh_wait(struct bench_transport *t, const bool *busy, unsigned nq, int ms)
{
    struct pollfd p[BENCH_MAX_QUEUES];
    unsigned n = 0;
    int ret;

    if (nq == 1) {
        ret = vdev_vuc_wait(vuc(t), 0, ms);
        return ret < 0 ? ret : 0;
    }
    for (unsigned i = 0; i < nq && i < BENCH_MAX_QUEUES; i++) {
        int kick_fd;

        if (!busy[i])
            continue;
        ret = vdev_vuc_wait(vuc(t), (uint16_t)i, 0);
        if (ret != 0)
            return ret < 0 ? ret : 0;
        ret = vdev_vuc_queue_fds(vuc(t), (uint16_t)i, &kick_fd, &p[n].fd);
        if (ret < 0)
            return ret;
        p[n++].events = POLLIN;
    }
    ret = poll(p, n, ms);
    return ret < 0 && errno != EINTR ? -errno : 0;
}

static void vh_close(struct bench_transport *t)
{
    vdev_vuc_close(vuc(t));
    free(t);
}

static const struct bench_transport_ops vhost_ops = {
    .read_config = vh_read_config,
    .setup = vh_setup,
    .alloc = vh_alloc,
    .submit = vh_submit,
    .kick = vh_kick,
    .reap = vh_reap,
    .wait = vh_wait,
    .close = vh_close,
};

int bench_vhost_open(const struct bench_options *o, uint64_t want,
                     struct bench_transport **out)
{
    uint64_t pf = BIT(VDEV_VUC_PF_MQ) | BIT(VDEV_VUC_PF_REPLY_ACK) | BIT(VDEV_VUC_PF_CONFIG);
    struct vhost_transport *v = calloc(1, sizeof(*v));
    int ret;

    if (!v)
        return -ENOMEM;
    v->t.ops = &vhost_ops;
    v->t.name = "vhost-user";
    ret = vdev_vuc_connect(o->socket, o->connect_ms, &v->c);
    if (ret < 0) {
        fprintf(stderr, "vdev-bench: connect %s: %s\n", o->socket, vdev_strerror(ret));
        free(v);
        return ret;
    }
    ret = vdev_vuc_negotiate(v->c, want, pf);
    if (ret < 0) {
        fprintf(stderr, "vdev-bench: negotiation: %s\n", vdev_strerror(ret));
        vh_close(&v->t);
        return ret;
    }
    v->t.features = vdev_vuc_features(v->c);
    v->t.queue_num = vdev_vuc_queue_num(v->c);
    *out = &v->t;
    return 0;
}
