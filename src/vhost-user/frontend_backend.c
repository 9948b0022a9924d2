/* frontend_backend.c — the back-end channel: a socketpair whose far end the
 * back-end gets with SET_BACKEND_REQ_FD, and the requests it sends on it
 * (vhost-user.rst, "Back-end communication", "Back-end message types").
 *
 * Each request is checked like a reply on the main channel: version 1, no reply
 * flag, the payload size its type has, fds only with BACKEND_SEND_FD. A request
 * that breaks the protocol closes the channel. A well-formed request for a
 * feature that was not negotiated is answered with failure. */
#include <errno.h>
#include <linux/virtio_config.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vdev/sock.h"
#include "frontend_internal.h"

/* The flags a back-end request may carry. */
#define VUC_REQUEST_FLAGS (VU_FLAG_VERSION_MASK | VU_FLAG_NEED_REPLY)

void vuc_backend_close(struct vdev_vuc *c)
{
    if (c->backend_fd >= 0)
        close(c->backend_fd);
    c->backend_fd = -1;
}

VDEV_API int vdev_vuc_set_backend_req_fd(struct vdev_vuc *c, int fd)
{
    int ret = vuc_ready(c, VU_PF_BACKEND_REQ);

    if (ret < 0)
        return ret;
    if (fd < 0)
        return -EINVAL;
    return vuc_request(c, VU_SET_BACKEND_REQ_FD, NULL, 0, &fd, 1);
}

VDEV_API int vdev_vuc_backend_open(struct vdev_vuc *c)
{
    int sv[2], ret = vuc_ready(c, VU_PF_BACKEND_REQ);

    if (ret < 0)
        return ret;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    /* Ours before the request goes: the back-end may use the channel before it
     * acks, and is served while the ack is awaited. */
    vuc_backend_close(c);
    c->backend_fd = sv[0];
    ret = vdev_vuc_set_backend_req_fd(c, sv[1]);
    close(sv[1]);
    if (ret < 0)
        vuc_backend_close(c);
    return ret;
}

VDEV_API int vdev_vuc_backend_fd(const struct vdev_vuc *c)
{
    return c->backend_fd;
}

VDEV_API void vdev_vuc_set_backend_handler(struct vdev_vuc *c, vdev_vuc_backend_fn fn,
                                           void *opaque)
{
    c->backend_fn = fn;
    c->backend_opaque = opaque;
}

VDEV_API uint64_t vdev_vuc_config_changes(const struct vdev_vuc *c)
{
    return c->config_changes;
}

/* ---- one request ---- */

/* The payload size of each request type, or -1 for a type this client does not
 * know. */
static int64_t payload_size(uint32_t request)
{
    switch (request) {
    case VU_BACKEND_IOTLB_MSG:
        return sizeof(struct vhost_iotlb_msg);
    case VU_BACKEND_CONFIG_CHANGE_MSG:
        return 0;
    case VU_BACKEND_VRING_HOST_NOTIFIER_MSG:
        return sizeof(struct vu_vring_area);
    case VU_BACKEND_VRING_CALL:
    case VU_BACKEND_VRING_ERR:
        return sizeof(struct vhost_vring_state);
    default:
        return -1;
    }
}

/* Whether what the request needs was negotiated. IOTLB messages come "only when
 * VIRTIO_F_IOMMU_PLATFORM feature has been successfully negotiated". */
static bool negotiated_for(const struct vdev_vuc *c, uint32_t request)
{
    switch (request) {
    case VU_BACKEND_IOTLB_MSG:
        return vuc_has_feature(c, VIRTIO_F_ACCESS_PLATFORM);
    case VU_BACKEND_CONFIG_CHANGE_MSG:
        return vuc_has_pf(c, VU_PF_CONFIG);
    case VU_BACKEND_VRING_HOST_NOTIFIER_MSG:
        return vuc_has_pf(c, VU_PF_HOST_NOTIFIER);
    case VU_BACKEND_VRING_CALL:
    case VU_BACKEND_VRING_ERR:
        return vuc_has_pf(c, VU_PF_INBAND_NOTIFICATIONS);
    default:
        return false;
    }
}

/* Reads one request and checks its form. 0, or -EPROTO / an I/O error, after
 * which the request's fds are closed. */
static int read_request(struct vdev_vuc *c, struct vdev_vuc_backend_req *req,
                        int timeout_ms)
{
    struct vu_header h;
    size_t n = 0, more = 0;
    int64_t want;
    int ret;

    ret = vdev_sock_recv(c->backend_fd, &h, sizeof(h), req->fds, VDEV_VUC_MAX_MSG_FDS, &n,
                         timeout_ms);
    if (ret < 0)
        return ret == -EMSGSIZE ? -EPROTO : ret;
    want = payload_size(h.request);
    if ((h.flags & VU_FLAG_VERSION_MASK) != VU_VERSION || (h.flags & ~VUC_REQUEST_FLAGS) ||
        h.size > sizeof(req->payload) || (want >= 0 && h.size != (uint64_t)want)) {
        vdev_warn(VUC_LOG "back-end request %u: flags 0x%x, %u payload bytes", h.request,
                  h.flags, h.size);
        ret = -EPROTO;
        goto fail;
    }
    ret = vdev_sock_recv(c->backend_fd, req->payload.bytes, h.size, req->fds + n,
                         VDEV_VUC_MAX_MSG_FDS - n, &more, timeout_ms);
    if (ret < 0) {
        ret = ret == -EMSGSIZE ? -EPROTO : ret;
        goto fail;
    }
    n += more;
    /* fds only "If VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD protocol feature is
     * negotiated ... (at most 8 descriptors in each message)". */
    if (n && !vuc_has_pf(c, VU_PF_BACKEND_SEND_FD)) {
        vdev_warn(VUC_LOG "back-end request %u came with %zu fds", h.request, n);
        ret = -EPROTO;
        goto fail;
    }
    req->request = h.request;
    req->flags = h.flags;
    req->size = h.size;
    req->nfds = (unsigned)n;
    return 0;
fail:
    vdev_close_fds(req->fds, n);
    return ret;
}

/* What the client does itself, before the handler: 0 done, 1 nothing to do (the
 * handler's to answer), or the error to answer with, the handler not asked. */
static int own_handling(struct vdev_vuc *c, const struct vdev_vuc_backend_req *req)
{
    switch (req->request) {
    case VU_BACKEND_CONFIG_CHANGE_MSG:
        c->config_changes++;
        return 0;
    case VU_BACKEND_VRING_CALL: {
        /* An in-band call signals the queue's call eventfd, so waiting on it
         * works the same either way. */
        uint32_t index = req->payload.state.index;
        struct vuc_queue *q = index < VDEV_VUC_MAX_QUEUES ? c->queues[index] : NULL;
        uint64_t one = 1;

        if (!q)
            return -ENOENT;
        if (write(q->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            return -errno;
        return 0;
    }
    case VU_BACKEND_VRING_ERR:
        vdev_warn(VUC_LOG "the back-end reports an error on ring %u",
                  req->payload.state.index);
        return 0;
    default:
        return 1;
    }
}

/* "the front-end must respond with zero when operation is successfully
 * completed, or non-zero otherwise". */
static int send_reply(struct vdev_vuc *c, uint32_t request, int result)
{
    struct {
        struct vu_header h;
        uint64_t u64;
    } __attribute__((packed)) m = {
        .h = { .request = request, .flags = VU_VERSION | VU_FLAG_REPLY,
               .size = sizeof(uint64_t) },
        .u64 = result < 0 ? (uint64_t)-result : 0,
    };

    return vdev_sock_send(c->backend_fd, &m, sizeof(m), NULL, 0, c->timeout_ms);
}

int vuc_backend_serve(struct vdev_vuc *c, int timeout_ms)
{
    struct vdev_vuc_backend_req req;
    int result, ret;

    if (c->backend_fd < 0)
        return -ENOTCONN;
    memset(&req, 0, sizeof(req));
    ret = read_request(c, &req, timeout_ms);
    if (ret < 0) {
        if (ret != -ECONNRESET)
            vdev_warn(VUC_LOG "back-end channel: %s: closing it", vdev_strerror(ret));
        vuc_backend_close(c);
        return ret;
    }
    if (!negotiated_for(c, req.request)) {
        vdev_warn(VUC_LOG "back-end request %u without its feature", req.request);
        result = -EOPNOTSUPP;
    } else {
        result = own_handling(c, &req);
        if (result >= 0 && c->backend_fn) {
            c->in_backend = true;
            result = c->backend_fn(c->backend_opaque, &req);
            c->in_backend = false;
        } else if (result == 1) {
            result = -EOPNOTSUPP;           /* nobody to serve it */
        }
    }
    vdev_close_fds(req.fds, req.nfds);
    if (req.flags & VU_FLAG_NEED_REPLY) {
        ret = send_reply(c, req.request, result);
        if (ret < 0) {
            vuc_backend_close(c);
            return ret;
        }
    }
    return 1;
}

VDEV_API int vdev_vuc_backend_process(struct vdev_vuc *c, int timeout_ms)
{
    struct pollfd p = { .fd = c->backend_fd, .events = POLLIN };
    int r;

    if (c->backend_fd < 0)
        return -ENOTCONN;
    do {
        r = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        return 0;
    return vuc_backend_serve(c, c->timeout_ms);
}
