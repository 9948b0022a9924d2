/* frontend_msg.c — the front-end's message I/O: one request out, its reply in
 * and checked against what the spec says it must be (vhost-user.rst, "Message
 * Specification", "Communication", "VHOST_USER_PROTOCOL_F_REPLY_ACK").
 *
 * A reply that is not the one expected closes the connection: "If front-end is
 * unable to send the full message or receives a wrong reply it will close the
 * connection" ("Communication"). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vdev/sock.h"
#include "frontend_internal.h"

/* The flags a reply may carry: the version, the reply flag, and need_reply, which
 * some back-ends leave set when they answer a request that had it. */
#define VUC_REPLY_FLAGS (VU_FLAG_VERSION_MASK | VU_FLAG_REPLY | VU_FLAG_NEED_REPLY)

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: none), never below 0. */
static int left_ms(int64_t deadline)
{
    int64_t left;

    if (deadline < 0)
        return -1;
    left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

void vuc_drop(struct vdev_vuc *c, int err, const char *fmt, ...)
{
    char why[192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    vdev_warn(VUC_LOG "%s (%s): closing the connection", why, vdev_strerror(err));
    if (c->sock >= 0) {
        close(c->sock);
        c->sock = -1;
    }
    vuc_backend_close(c);
}

int vuc_ready(const struct vdev_vuc *c, int bit)
{
    if (c->sock < 0)
        return -ENOTCONN;
    if (bit >= 0 && !vuc_has_pf(c, (unsigned)bit))
        return -EOPNOTSUPP;
    return 0;
}

int vuc_send(struct vdev_vuc *c, uint32_t request, uint32_t flags, const void *payload,
             uint32_t size, const int *fds, size_t nfds)
{
    struct {
        struct vu_header h;
        uint8_t payload[VUC_PAYLOAD_MAX];
    } __attribute__((packed)) m;
    int ret;

    if (c->sock < 0)
        return -ENOTCONN;
    if (size > VUC_PAYLOAD_MAX)     /* our own requests never are */
        return -EINVAL;
    m.h.request = request;
    m.h.flags = VU_VERSION | flags;
    m.h.size = size;
    if (size)
        memcpy(m.payload, payload, size);
    ret = vdev_sock_send(c->sock, &m, sizeof(m.h) + size, fds, nfds, c->timeout_ms);
    if (ret < 0)
        vuc_drop(c, ret, "sending request %u", request);
    return ret;
}

/* Waits for the reply to be readable, serving the back-end channel meanwhile: a
 * back-end may send a request with need_reply and wait for our answer before it
 * answers ours. 0 when the socket is readable (or has hung up: the read tells). */
static int wait_reply(struct vdev_vuc *c, int64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = {
            { .fd = c->sock, .events = POLLIN },
            { .fd = c->backend_fd, .events = POLLIN },
        };
        nfds_t n = (c->backend_fd >= 0 && !c->in_backend) ? 2 : 1;
        int r = poll(p, n, left_ms(deadline));

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -ETIMEDOUT;
        if (p[0].revents)
            return 0;
        /* A back-end request has its own time limit; its errors close only the
         * back-end channel. */
        if (n == 2 && p[1].revents)
            vuc_backend_serve(c, c->timeout_ms);
    }
}

/* The header, field by field in wire order. */
static int check_header(const struct vu_header *h, uint32_t request,
                        const struct vuc_reply *r, char *why, size_t len)
{
    if (h->request != request) {
        snprintf(why, len, "reply to request %u for request %u", h->request, request);
        return -EPROTO;
    }
    if ((h->flags & VU_FLAG_VERSION_MASK) != VU_VERSION) {
        snprintf(why, len, "reply to request %u with version %u", request,
                 h->flags & VU_FLAG_VERSION_MASK);
        return -EPROTO;
    }
    if (!(h->flags & VU_FLAG_REPLY)) {
        snprintf(why, len, "reply to request %u without the reply flag", request);
        return -EPROTO;
    }
    if (h->flags & ~VUC_REPLY_FLAGS) {
        snprintf(why, len, "reply to request %u with unknown flags 0x%x", request,
                 h->flags);
        return -EPROTO;
    }
    if (h->size < r->min || h->size > r->max) {
        snprintf(why, len, "reply to request %u with %u payload bytes (%u..%u)",
                 request, h->size, r->min, r->max);
        return -EPROTO;
    }
    return 0;
}

int vuc_recv_reply(struct vdev_vuc *c, uint32_t request, struct vuc_reply *r)
{
    int64_t deadline = c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
    int fds[VDEV_VUC_MAX_MSG_FDS];
    size_t n = 0, more = 0;
    struct vu_header h;
    char why[160] = "";
    int ret;

    r->size = 0;
    r->nfds = 0;
    if (c->sock < 0)
        return -ENOTCONN;
    ret = wait_reply(c, deadline);
    if (ret < 0) {
        snprintf(why, sizeof(why), "waiting for the reply to request %u", request);
        goto fail;
    }
    ret = vdev_sock_recv(c->sock, &h, sizeof(h), fds, VDEV_VUC_MAX_MSG_FDS, &n,
                         left_ms(deadline));
    if (ret < 0) {
        snprintf(why, sizeof(why), "reading the reply to request %u", request);
        goto fail;
    }
    ret = check_header(&h, request, r, why, sizeof(why));
    if (ret < 0)
        goto fail;
    if (h.size > 0) {
        ret = vdev_sock_recv(c->sock, r->buf, h.size, fds + n, VDEV_VUC_MAX_MSG_FDS - n,
                             &more, left_ms(deadline));
        if (ret < 0) {
            snprintf(why, sizeof(why), "reading the reply payload of request %u",
                     request);
            goto fail;
        }
        n += more;
    }
    if (n > r->max_fds) {
        snprintf(why, sizeof(why), "reply to request %u with %zu fds (at most %zu)",
                 request, n, r->max_fds);
        ret = -EPROTO;
        goto fail;
    }
    memcpy(r->fds, fds, n * sizeof(int));
    r->nfds = n;
    r->size = h.size;
    return 0;
fail:
    if (ret == -EMSGSIZE)           /* more fds than a message may carry */
        ret = -EPROTO;
    vdev_close_fds(fds, n);
    vuc_drop(c, ret, "%s", why);
    return ret;
}

int vuc_request(struct vdev_vuc *c, uint32_t request, const void *payload,
                uint32_t size, const int *fds, size_t nfds)
{
    bool ack = vuc_has_pf(c, VU_PF_REPLY_ACK);
    uint64_t v = 0;
    struct vuc_reply r = { .buf = &v, .min = sizeof(v), .max = sizeof(v) };
    int ret;

    ret = vuc_send(c, request, ack ? VU_FLAG_NEED_REPLY : 0, payload, size, fds, nfds);
    if (ret < 0 || !ack)
        return ret;
    ret = vuc_recv_reply(c, request, &r);
    if (ret < 0)
        return ret;
    /* "The payload should be set to zero on success or non-zero on failure." */
    if (v != 0) {
        vdev_warn(VUC_LOG "request %u failed: the back-end acked %llu", request,
                  (unsigned long long)v);
        return -EREMOTEIO;
    }
    return 0;
}

int vuc_call(struct vdev_vuc *c, uint32_t request, const void *payload, uint32_t size,
             const int *fds, size_t nfds, struct vuc_reply *r)
{
    /* need_reply "brings no behavioural change" for these: it is left clear. */
    int ret = vuc_send(c, request, 0, payload, size, fds, nfds);

    if (ret < 0)
        return ret;
    return vuc_recv_reply(c, request, r);
}

int vuc_call_u64(struct vdev_vuc *c, uint32_t request, uint64_t *out)
{
    uint64_t v = 0;
    struct vuc_reply r = { .buf = &v, .min = sizeof(v), .max = sizeof(v) };
    int ret = vuc_call(c, request, NULL, 0, NULL, 0, &r);

    if (ret == 0)
        *out = v;
    return ret;
}
