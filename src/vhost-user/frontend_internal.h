/* frontend_internal.h — the layout behind struct vdev_vuc, shared by the
 * front-end's files (frontend_*.c). */
#ifndef VDEV_VHOST_USER_FRONTEND_INTERNAL_H
#define VDEV_VHOST_USER_FRONTEND_INTERNAL_H

#include "vdev/log.h"
#include "vdev/vhost_user_client.h"
#include "proto.h"

#define VUC_LOG          "vhost-user frontend: "
#define VUC_PAYLOAD_MAX  512          /* the largest payload sent or accepted */
#define VUC_MAX_REGIONS  32           /* the convenience layer's regions */

_Static_assert(VDEV_VUC_PF_REPLY_ACK == VU_PF_REPLY_ACK, "protocol feature bits");
_Static_assert(VDEV_VUC_PF_DEVICE_STATE == VU_PF_DEVICE_STATE, "protocol feature bits");
_Static_assert(VDEV_VUC_F_PROTOCOL_FEATURES == VU_F_PROTOCOL_FEATURES, "bit 30");
_Static_assert(VDEV_VUC_MAX_CONFIG == VU_MAX_CONFIG_SIZE, "config size");
_Static_assert(VDEV_VUC_MEM_TABLE_MAX == VU_MEMORY_BASELINE_NREGIONS, "memory table");
_Static_assert(VDEV_VUC_BACKEND_VRING_ERR == VU_BACKEND_VRING_ERR, "back-end requests");

/* ---- the first-fit allocator (frontend_alloc.c) ---- */

struct vuc_extent {
    uint64_t start, len;
};

/* Free extents, sorted by start, never touching (touching ones are merged). */
struct vuc_alloc {
    struct vuc_extent *ext;
    size_t n, cap;
};

int  vuc_alloc_get(struct vuc_alloc *a, uint64_t size, uint64_t align, uint64_t *out);
/* Returns [start, start + len) to the free space: -EINVAL if any of it is free
 * already, -ENOMEM. */
int  vuc_alloc_put(struct vuc_alloc *a, uint64_t start, uint64_t len);
void vuc_alloc_fini(struct vuc_alloc *a);

/* ---- guest memory ---- */

struct vuc_region {
    uint64_t gpa, size;
    uint64_t user_addr;      /* this process's address of gpa */
    int fd;                  /* the memfd, kept for ADD_MEM_REG and replay */
};

/* ---- queues ---- */

enum vuc_queue_state {
    VUC_Q_RUNNING,           /* set up with the back-end */
    VUC_Q_STOPPED,           /* base kept; restarted by queue_start */
};

struct vuc_queue {
    enum vuc_queue_state state;
    bool replay;             /* ran at the disconnect: reconnect restarts it */
    uint16_t index, size, indirect_max;
    bool packed, event_idx, indirect;
    uint64_t desc_gpa, driver_gpa, device_gpa, indirect_gpa;
    uint64_t desc_len, driver_len, device_len, indirect_len;
    struct vdev_vqd *vqd;
    int kick_fd, call_fd;
    uint32_t base;           /* what SET_VRING_BASE sends next */
    /* Packed: where the device writes its next used descriptor, followed from
     * the chains it returns (chain_len[id]: descriptors of buffer id). */
    uint16_t *chain_len;
    uint16_t used_pos;
    bool used_wrap;
};

/* ---- the client ---- */

struct vdev_vuc {
    int sock;                /* -1 when not connected */
    int timeout_ms;

    /* what this connection learned and set */
    bool have_offered;       /* GET_FEATURES answered */
    uint64_t offered;        /* GET_FEATURES */
    uint64_t features;       /* last SET_FEATURES */
    uint64_t pf;             /* last SET_PROTOCOL_FEATURES: negotiated */

    /* the convenience layer's wishes and results, kept for reconnect */
    bool negotiated;
    uint64_t want_features, want_pf;
    uint64_t queue_num;      /* GET_QUEUE_NUM, 0 without MQ */
    uint64_t max_slots;      /* GET_MAX_MEM_SLOTS, 0 without CONFIGURE_MEM_SLOTS */

    struct vdev_mem *mem;
    struct vuc_region regions[VUC_MAX_REGIONS];
    unsigned nregions;
    struct vuc_alloc alloc;

    struct vuc_queue *queues[VDEV_VUC_MAX_QUEUES];

    int inflight_fd;         /* -1 when none */
    struct vdev_vuc_inflight inflight;

    int backend_fd;          /* our end of the back-end channel, or -1 */
    bool in_backend;         /* serving a back-end request now */
    vdev_vuc_backend_fn backend_fn;
    void *backend_opaque;
    uint64_t config_changes;
};

static inline bool vuc_has_pf(const struct vdev_vuc *c, unsigned bit)
{
    return (c->pf >> bit) & 1;
}

static inline bool vuc_has_feature(const struct vdev_vuc *c, unsigned bit)
{
    return (c->features >> bit) & 1;
}

/* ---- message I/O (frontend_msg.c) ---- */

/* Closes the connection after an error, with a log line saying why. */
void vuc_drop(struct vdev_vuc *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* -ENOTCONN without a connection; -EOPNOTSUPP unless protocol feature bit is
 * negotiated (bit < 0: no feature needed). */
int  vuc_ready(const struct vdev_vuc *c, int bit);

/* What a reply must look like, and where it goes. */
struct vuc_reply {
    void *buf;               /* payload, at least max bytes */
    uint32_t min, max;       /* accepted payload sizes */
    uint32_t size;           /* out: the payload's size */
    size_t max_fds;          /* fds accepted */
    int fds[VDEV_VUC_MAX_MSG_FDS];   /* out: the fds, now the caller's */
    size_t nfds;             /* out */
};

/* Sends one request: header, payload and fds in one message. */
int  vuc_send(struct vdev_vuc *c, uint32_t request, uint32_t flags, const void *payload,
              uint32_t size, const int *fds, size_t nfds);
/* Receives the reply to request, serving the back-end channel while waiting, and
 * checks it against r. Any error closes the connection and every fd. */
int  vuc_recv_reply(struct vdev_vuc *c, uint32_t request, struct vuc_reply *r);

/* A request that has no reply of its own: with REPLY_ACK negotiated it goes with
 * NEED_REPLY and the ack is checked (non-zero: -EREMOTEIO). */
int  vuc_request(struct vdev_vuc *c, uint32_t request, const void *payload,
                 uint32_t size, const int *fds, size_t nfds);
/* A request with a reply of its own. */
int  vuc_call(struct vdev_vuc *c, uint32_t request, const void *payload, uint32_t size,
              const int *fds, size_t nfds, struct vuc_reply *r);
/* A request without payload whose reply is one u64. */
int  vuc_call_u64(struct vdev_vuc *c, uint32_t request, uint64_t *out);

/* ---- connection (frontend_conn.c) ---- */

int  vuc_connect_path(const char *path, int retry_ms, int *fd);

/* ---- back-end channel (frontend_backend.c) ---- */

/* Serves one request that is waiting on the channel (poll said readable). */
int  vuc_backend_serve(struct vdev_vuc *c, int timeout_ms);
void vuc_backend_close(struct vdev_vuc *c);

/* ---- memory (frontend_mem.c) ---- */

/* Shares every region again on a new connection. */
int  vuc_mem_replay(struct vdev_vuc *c);
void vuc_mem_free(struct vdev_vuc *c);

/* ---- queues (frontend_queue.c) ---- */

/* The messages that start queue q on the back-end, at q->base. */
int  vuc_queue_send(struct vdev_vuc *c, struct vuc_queue *q);
/* The base to resume q from when the back-end went away without a stop. */
uint32_t vuc_queue_resume_base(struct vdev_vuc *c, const struct vuc_queue *q);
struct vuc_queue *vuc_queue(struct vdev_vuc *c, uint16_t index);

/* ---- negotiation (frontend_negotiate.c) ---- */

int  vuc_negotiate(struct vdev_vuc *c);

#endif
