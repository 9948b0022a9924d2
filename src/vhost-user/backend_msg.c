/* backend_msg.c — one front-end message in, its reply out ("Message
 * Specification", "REPLY_ACK").
 *
 * A message is the 12-byte header, then size bytes of payload, with up to 8 fds
 * on any of its bytes. The size is judged against the request's table entry
 * before a byte of payload is read:
 *   - larger than any request takes (VU_MAX_PAYLOAD): the connection is dropped,
 *     since draining up to 4 GiB would hold the control thread;
 *   - the wrong size for this request: the payload is read and thrown away, the
 *     request is answered with an error, and the connection lives.
 * Each read has the back-end's io timeout, so a front-end that stops half-way
 * through a message cannot hold the control thread: the connection is dropped.
 * Every fd that came with a message and was not kept by its handler is closed
 * before the next message is read. */
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "vdev/sock.h"
#include "backend_internal.h"

struct vu_wire {
    struct vu_header hdr;
    uint8_t payload[VU_MAX_PAYLOAD];
} __attribute__((packed));

static int send_reply(struct vdev_vu_backend *b, const struct vu_msg *m,
                      const void *payload, uint32_t size, int fd)
{
    struct vu_wire w;

    w.hdr.request = m->hdr.request;
    w.hdr.flags = VU_VERSION | VU_FLAG_REPLY;
    w.hdr.size = size;
    if (size)
        memcpy(w.payload, payload, size);
    return vdev_sock_send(b->c.fd, &w, sizeof(w.hdr) + size, fd >= 0 ? &fd : NULL,
                          fd >= 0 ? 1 : 0, b->timeout_ms);
}

/* The u64 of a REPLY_ACK: 0 for success, non-zero (the errno) otherwise. */
static uint64_t status_of(int ret)
{
    return ret < 0 ? (uint64_t)-ret : 0;
}

/* The u64 of a request whose reply is a status (SET_LOG_BASE, IOTLB_MSG,
 * SET_DEVICE_STATE_FD, ...) on failure: bits 0-7 non-zero, and bit 8 set, which
 * SET_DEVICE_STATE_FD reads as "no fd comes back" (the spec forbids an error
 * with an fd). */
static uint64_t error_status(int ret)
{
    uint64_t low = (uint64_t)-ret & 0xff;

    return (low ? low : 1) | VU_VRING_NOFD;
}

/* "REPLY_ACK": a request with its own reply payload gets that reply (empty on
 * error, as GET_CONFIG's text asks, so the front-end sees the size mismatch);
 * any other request gets a u64 when REPLY_ACK is negotiated and it asked. */
static int reply(struct vdev_vu_backend *b, struct vu_msg *m,
                 const struct vu_handler *h, int ret)
{
    uint64_t st;

    /* "Communication": SET_LOG_BASE and GET_INFLIGHT_FD have a reply only with
     * their protocol feature; without it the request is answered like one with
     * no reply of its own. */
    if (h && h->reply_if_pf && !vu_has_pf(b, (unsigned)h->pfeature))
        h = NULL;
    if (h && h->reply == VU_REPLY_VALUE) {
        if (ret < 0)
            return send_reply(b, m, NULL, 0, -1);
        return send_reply(b, m, m->r.raw, m->reply_size, m->reply_fd);
    }
    if (h && h->reply == VU_REPLY_STATUS) {
        st = ret < 0 ? error_status(ret) : m->status;
        return send_reply(b, m, &st, sizeof(st), ret < 0 ? -1 : m->reply_fd);
    }
    if ((m->hdr.flags & VU_FLAG_NEED_REPLY) && vu_has_pf(b, VU_PF_REPLY_ACK)) {
        st = status_of(ret);
        return send_reply(b, m, &st, sizeof(st), -1);
    }
    return 0;
}

static int check_fds(struct vdev_vu_backend *b, const struct vu_msg *m,
                     const struct vu_handler *h)
{
    if (h->fds == VU_FDS_NONE && m->nfds != 0)
        return vu_bad(b, -EBADMSG, "%s takes no fd, %zu came", h->name, m->nfds);
    if (h->fds == VU_FDS_ONE && m->nfds != 1)
        return vu_bad(b, -EBADMSG, "%s takes one fd, %zu came", h->name, m->nfds);
    return 0;
}

/* Everything the table says, then the handler. */
static int handle(struct vdev_vu_backend *b, struct vu_msg *m,
                  const struct vu_handler *h, bool size_ok, bool fds_ok)
{
    uint32_t version = m->hdr.flags & VU_FLAG_VERSION_MASK;
    int ret;

    if (!h)
        return vu_bad(b, -ENOSYS, "request %u is not one of the spec's", m->hdr.request);
    if (version != VU_VERSION)
        return vu_bad(b, -EPROTO, "%s with version %u", h->name, version);
    if (m->hdr.flags & VU_FLAG_REPLY)
        return vu_bad(b, -EPROTO, "%s with the reply flag", h->name);
    if (!size_ok)
        return vu_bad(b, -EBADMSG, "%s payload of %u bytes, not %u..%u", h->name,
                      m->hdr.size, h->min_size, h->max_size);
    if (!fds_ok)
        return vu_bad(b, -EBADMSG, "%s with more than %d fds", h->name, VU_MAX_FDS);
    ret = check_fds(b, m, h);
    if (ret < 0)
        return ret;
    if (h->pfeature >= 0 && !vu_has_pf(b, (unsigned)h->pfeature))
        return vu_bad(b, -ENOTSUP, "%s without protocol feature %d negotiated",
                      h->name, h->pfeature);
    if (!h->fn)
        return vu_bad(b, -ENOTSUP, "%s is not implemented", h->name);
    return h->fn(b, m);
}

static int read_payload(struct vdev_vu_backend *b, struct vu_msg *m, bool *fds_ok)
{
    size_t more = 0;
    int ret = vdev_sock_recv(b->c.fd, m->p.raw, m->hdr.size, m->fds + m->nfds,
                             VU_MAX_FDS - m->nfds, &more, b->timeout_ms);

    if (ret == -EMSGSIZE) {          /* too many fds: all closed, still in step */
        *fds_ok = false;
        return 0;
    }
    if (ret < 0)
        return ret;
    m->nfds += more;
    return 0;
}

int vu_msg_serve(struct vdev_vu_backend *b)
{
    struct vu_msg m;
    const struct vu_handler *h;
    bool size_ok, fds_ok = true;
    int ret;

    memset(&m.hdr, 0, sizeof(m.hdr));
    memset(&m.p, 0, sizeof(m.p));
    for (size_t i = 0; i < VU_MAX_FDS; i++)
        m.fds[i] = -1;
    m.nfds = 0;
    m.reply_size = 0;
    m.status = 0;
    m.reply_fd = -1;

    ret = vdev_sock_recv(b->c.fd, &m.hdr, sizeof(m.hdr), m.fds, VU_MAX_FDS, &m.nfds,
                         b->timeout_ms);
    if (ret == -EMSGSIZE)
        fds_ok = false;
    else if (ret < 0)
        return ret;

    if (m.hdr.size > VU_MAX_PAYLOAD) {
        vu_bad(b, -EMSGSIZE, "%s with a %u-byte payload: dropping the connection",
               vu_req_name(m.hdr.request), m.hdr.size);
        vdev_close_fds(m.fds, VU_MAX_FDS);
        return -EMSGSIZE;
    }
    h = vu_handler_of(m.hdr.request);
    size_ok = h && m.hdr.size >= h->min_size && m.hdr.size <= h->max_size;

    ret = read_payload(b, &m, &fds_ok);
    if (ret < 0) {
        vu_bad(b, ret, "%s: payload of %u bytes did not arrive",
               vu_req_name(m.hdr.request), m.hdr.size);
        vdev_close_fds(m.fds, VU_MAX_FDS);
        return ret;
    }

    ret = handle(b, &m, h, size_ok, fds_ok);
    vdev_close_fds(m.fds, VU_MAX_FDS);
    if (ret == VU_CLOSE) {
        vu_close(&m.reply_fd);
        return VU_CLOSE;
    }
    if (ret < 0)
        vdev_warn("vhost-user %s: %s failed: %s", b->c.peer,
                  vu_req_name(m.hdr.request), vdev_strerror(ret));
    ret = reply(b, &m, h, ret);
    vu_close(&m.reply_fd);
    if (ret < 0)
        vdev_warn("vhost-user %s: cannot reply to %s: %s", b->c.peer,
                  vu_req_name(m.hdr.request), vdev_strerror(ret));
    return ret;
}

int vu_backend_send(struct vdev_vu_backend *b, uint32_t request,
                    const void *payload, uint32_t size)
{
    struct vu_wire w;
    int ret;

    if (b->c.backend_fd < 0)
        return -ENOTCONN;
    if (size > sizeof(w.payload))
        return -EMSGSIZE;
    w.hdr.request = request;
    w.hdr.flags = VU_VERSION;
    w.hdr.size = size;
    if (size)
        memcpy(w.payload, payload, size);
    ret = vdev_sock_send(b->c.backend_fd, &w, sizeof(w.hdr) + size, NULL, 0,
                         b->timeout_ms);
    if (ret < 0) {
        vdev_warn("vhost-user %s: back-end channel: %s; dropping it", b->c.peer,
                  vdev_strerror(ret));
        vu_close(&b->c.backend_fd);
    }
    return ret;
}
