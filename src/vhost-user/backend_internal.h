/* backend_internal.h — the layout behind struct vdev_vu_backend, shared by the
 * back-end's files:
 *
 *   backend.c           create, free, listen, accept, a connection's end
 *   backend_msg.c       one message in (header, size, payload, fds), replies out
 *   backend_dispatch.c  the table of requests: sizes, fds, features, handlers
 *   backend_features.c  features, protocol features, owner, resets, status
 *   backend_mem.c       memory table, ADD/REM_MEM_REG
 *   backend_log.c       the dirty log (SET_LOG_BASE, SET_LOG_FD)
 *   backend_vring.c     the SET_VRING_* / GET_VRING_BASE handlers
 *   backend_ring.c      a ring's life: started, enabled, running on a worker
 *   backend_config.c    GET/SET_CONFIG, the back-end channel
 *   backend_inflight.c  GET/SET_INFLIGHT_FD, each ring's inflight records
 *   backend_state.c     SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE
 *   backend_iotlb.c     IOTLB_MSG and IOTLB misses (VIRTIO_F_IOMMU_PLATFORM)
 *   backend_events.c    rings the driver broke, reported by workers at once
 *
 * Everything here runs on the control loop's thread. */
#ifndef VDEV_VU_BACKEND_INTERNAL_H
#define VDEV_VU_BACKEND_INTERNAL_H

#include <linux/vhost_types.h>

#include "vdev/inflight.h"
#include "vdev/loop.h"
#include "vdev/mem.h"
#include "vdev/vhost_user.h"
#include "vdev/virtio_dev.h"
#include "vdev/virtq.h"
#include "vdev/workers.h"
#include "proto.h"

/* At most 8 fds ride on one message ("Back-end communication", SET_MEM_TABLE). */
#define VU_MAX_FDS 8
/* SET_VRING_KICK/CALL/ERR name a ring in 8 bits: 256 rings at most. */
#define VU_MAX_RINGS 256u

/* A handler's return value that closes the connection (after its log line). */
#define VU_CLOSE (-ECONNABORTED)

/* One request as received, and the reply a handler prepares. */
struct vu_msg {
    struct vu_header hdr;
    union {
        uint64_t u64;
        struct vhost_vring_state state;
        struct vhost_vring_addr addr;
        struct vu_mem_table table;
        struct vu_mem_reg reg;
        struct vu_log log;
        struct vu_config config;
        struct vu_inflight inflight;
        struct vu_transfer_state xfer;
        struct vhost_iotlb_msg iotlb;
        uint8_t raw[VU_MAX_PAYLOAD];
    } p;
    int fds[VU_MAX_FDS];          /* a handler that keeps one sets it to -1 */
    size_t nfds;

    /* The reply: requests with a reply payload fill it (reply_size bytes); a
     * u64 status reply (SET_LOG_BASE, ...) carries status on success. */
    union {
        uint64_t u64;
        struct vhost_vring_state state;
        struct vu_config config;
        struct vu_inflight inflight;
        uint8_t raw[VU_MAX_PAYLOAD];
    } r;
    uint32_t reply_size;
    uint64_t status;
    int reply_fd;                 /* sent with the reply, then closed; or -1 */
};

struct vdev_vu_backend;

/* One ring, as the front-end set it up ("Ring states"). */
struct vu_ring {
    struct vdev_vu_backend *owner;
    unsigned index;
    uint32_t num;                 /* SET_VRING_NUM; 0 until then */
    bool addr_set;
    struct vhost_vring_addr addr; /* user addresses, as sent */
    uint32_t base;                /* SET_VRING_BASE, or where the ring stopped */
    bool base_set;
    int kick_fd, call_fd, err_fd; /* the front-end's eventfds, or -1 */
    bool kick_poll;               /* SET_VRING_KICK without an fd */
    bool started;                 /* started / stopped */
    bool enabled;                 /* enabled / disabled */
    struct vdev_watch *kick_watch;/* on the control loop until the first kick */

    /* In-band VRING_CALL: an eventfd of ours the queue signals, forwarded as
     * BACKEND_VRING_CALL. */
    int inband_fd;
    struct vdev_watch *inband_watch;

    /* Running: started, enabled, and served by a worker. */
    struct vdev_vq *vq;
    struct vdev_virtio_queue q;
    struct vdev_worker_queue *wq;

    /* An IOTLB miss the ring's worker met (backend_iotlb.c): written by the
     * worker, then miss_pending set; taken by the control loop, which sends it. */
    bool miss_pending;            /* atomic */
    uint64_t miss_iova;
    uint32_t miss_access;

    /* The driver broke the ring (backend_events.c): set by the worker, taken by
     * the control loop, which tells the front-end once per start. */
    bool broken_pending;          /* atomic */
    bool err_reported;
};

/* The shared dirty log of SET_LOG_BASE. */
struct vu_log_area {
    void *map;                    /* mmap of the fd, or NULL */
    size_t map_len;
    uint64_t size;                /* log bytes (from map + the offset's rest) */
    struct vdev_dirty *dirty;
    int log_fd;                   /* SET_LOG_FD's eventfd, or -1 (unused) */
};

/* The inflight area; it outlives connections. */
struct vu_inflight_area {
    void *map;                    /* mmap, or NULL */
    size_t map_len;
    struct vdev_inflight_layout layout;
    struct vdev_inflight **q;     /* layout.num_queues records, NULL if none */
};

/* A device state transfer (SET_DEVICE_STATE_FD). */
struct vu_xfer {
    int fd;                       /* the pipe end, or -1 */
    struct vdev_watch *watch;
    uint32_t direction;
    uint8_t *buf;
    size_t len, cap, done;        /* save: bytes to write, written; load: read */
    int result;                   /* for CHECK_DEVICE_STATE: 0, -EINPROGRESS, err */
    bool active;
};

/* What one front-end connection negotiated and handed over. */
struct vu_conn {
    int fd;                       /* -1: no front-end */
    struct vdev_watch *watch;
    char peer[48];                /* for log lines: "pid 1234" */
    bool owner;
    uint64_t features;            /* acked by SET_FEATURES */
    bool features_set;
    uint64_t pfeatures;           /* SET_PROTOCOL_FEATURES */
    uint8_t status;               /* SET_STATUS */
    bool needs_reset;             /* a ring failed: DEVICE_NEEDS_RESET */
    struct vdev_mem *mem;
    struct vu_log_area log;
    int backend_fd;               /* SET_BACKEND_REQ_FD, or -1 */
    struct vu_xfer xfer;
    /* VIRTIO_F_IOMMU_PLATFORM (backend_iotlb.c): the device IOTLB, an alias map of
     * mem by IOVA, or NULL until needed; and the eventfd workers signal misses
     * on (valid while miss_watch is set). */
    struct vdev_mem *iotlb;
    int miss_fd;
    struct vdev_watch *miss_watch;
    /* Rings broken by the driver, as workers report them (backend_events.c):
     * an eventfd on the control loop, valid while event_watch is set. */
    int event_fd;
    struct vdev_watch *event_watch;
};

struct vdev_vu_backend {
    struct vdev_loop *loop;
    struct vdev_workers *workers;
    struct vdev_virtio_dev *dev;
    char *path;                   /* the socket we bound, unlinked at free */
    int listen_fd;                /* -1 for --fd */
    struct vdev_watch *listen_watch;
    uint32_t max_slots;
    int timeout_ms;
    void (*on_disconnect)(void *opaque);
    void *opaque;

    unsigned nrings;              /* the device's queues, at most 256 */
    uint16_t max_qsize;           /* the device's largest ring */
    struct vu_ring *rings;
    struct vu_inflight_area inflight;
    struct vu_conn c;
    bool freeing;
};

/* --- backend.c ------------------------------------------------------------ */

/* Ends the connection: stops every ring, releases all of it, listens again. */
void vu_conn_drop(struct vdev_vu_backend *b, const char *why);

/* --- backend_msg.c -------------------------------------------------------- */

/* Reads one message, handles it, replies. 0, or a negative errno after which the
 * connection must be dropped (-ECONNRESET: the front-end closed it). */
int  vu_msg_serve(struct vdev_vu_backend *b);
/* Sends one back-end request on the back-end channel (no reply asked for). */
int  vu_backend_send(struct vdev_vu_backend *b, uint32_t request,
                     const void *payload, uint32_t size);

/* --- backend_dispatch.c --------------------------------------------------- */

enum vu_fds { VU_FDS_NONE, VU_FDS_ONE, VU_FDS_HANDLER, VU_FDS_ANY };
enum vu_reply { VU_REPLY_NONE, VU_REPLY_VALUE, VU_REPLY_STATUS };

struct vu_handler {
    const char *name;
    int (*fn)(struct vdev_vu_backend *b, struct vu_msg *m);  /* NULL: unsupported */
    uint32_t min_size, max_size;  /* payload bytes */
    uint8_t fds;                  /* enum vu_fds */
    uint8_t reply;                /* enum vu_reply */
    int8_t pfeature;              /* protocol feature it needs, or -1 */
    bool reply_if_pf;             /* the reply exists only with that feature */
};

/* The entry for a request code, NULL for one the spec does not define. */
const struct vu_handler *vu_handler_of(uint32_t request);
const char *vu_req_name(uint32_t request);

/* --- helpers (backend_features.c) ------------------------------------------ */

bool vu_has_pf(const struct vdev_vu_backend *b, unsigned bit);
bool vu_has_f(const struct vdev_vu_backend *b, unsigned bit);
bool vu_packed(const struct vdev_vu_backend *b);
/* Logs a front-end mistake with the peer's name; returns err. */
int  vu_bad(const struct vdev_vu_backend *b, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Takes fd i of m (sets it to -1 in m). */
int  vu_take_fd(struct vu_msg *m, size_t i);
void vu_close(int *fd);

/* --- backend_ring.c -------------------------------------------------------- */

struct vu_ring *vu_ring_of(struct vdev_vu_backend *b, uint32_t index);
bool vu_ring_running(const struct vu_ring *r);
/* Runs or halts the ring's worker to match started && enabled; the error of a
 * ring that should run and cannot (logged, error fd signalled). */
int  vu_ring_sync(struct vdev_vu_backend *b, struct vu_ring *r);
/* Starts a ring (the first kick, an in-band kick, a kick without fd). */
int  vu_ring_start(struct vdev_vu_backend *b, struct vu_ring *r);
/* Stops a ring (GET_VRING_BASE): its base is then in r->base. */
void vu_ring_stop(struct vdev_vu_backend *b, struct vu_ring *r);
/* Watches the kick fd for the kick that starts the ring. */
int  vu_ring_watch_kick(struct vdev_vu_backend *b, struct vu_ring *r);
/* Back to the initial state: stopped, disabled, nothing set, fds closed. */
void vu_ring_reset(struct vdev_vu_backend *b, struct vu_ring *r);
/* Halts the ring if it runs (it stays started): before changing what it uses. */
void vu_ring_halt(struct vdev_vu_backend *b, struct vu_ring *r);
/* Halts every running ring (the ones started stay started), and the reverse. */
void vu_rings_halt(struct vdev_vu_backend *b);
void vu_rings_sync(struct vdev_vu_backend *b);
/* Whether every ring is stopped ("Suspended device state"). */
bool vu_suspended(const struct vdev_vu_backend *b);
/* Checks that the ring's areas translate, each in one piece. */
int  vu_ring_check_addr(struct vdev_vu_backend *b, const struct vhost_vring_addr *a,
                        uint32_t num);

/* --- backend_log.c --------------------------------------------------------- */

/* Attaches the log to the memory map while LOG_ALL is negotiated; rings halted. */
void vu_log_apply(struct vdev_vu_backend *b);
void vu_log_release(struct vdev_vu_backend *b);

/* --- backend_inflight.c ----------------------------------------------------- */

/* The ring's inflight records for vdev_vq_start(), or NULL. */
struct vdev_inflight *vu_inflight_of(struct vdev_vu_backend *b, struct vu_ring *r,
                                     const struct vdev_vq_config *c);
void vu_inflight_release(struct vdev_vu_backend *b);

/* --- backend_config.c ------------------------------------------------------ */

int  vu_inband_call(struct vdev_vu_backend *b, unsigned index);

/* --- backend_iotlb.c ------------------------------------------------------- */

/* VIRTIO_F_IOMMU_PLATFORM is negotiated: ring and buffer addresses are IOVAs. */
bool vu_iommu(const struct vdev_vu_backend *b);
/* The map rings translate through: the IOTLB with IOMMU_PLATFORM, else the
 * memory table. The IOTLB is made on first use: NULL when out of memory. */
struct vdev_mem *vu_ring_mem(struct vdev_vu_backend *b);
/* The IOTLB and the eventfd workers report misses on, made if not yet there:
 * before a ring runs with IOMMU_PLATFORM. 0, -ENOMEM, or the eventfd's error. */
int  vu_iotlb_prepare(struct vdev_vu_backend *b);
/* A ring area of len bytes at iova, in one piece of the IOTLB with access:
 * 0; -EAGAIN when part of it is missing (a MISS was sent for the first
 * address); -EACCES when it is all there but part without access; -EFAULT
 * when it is all there but not contiguous. */
int  vu_iotlb_ring_area(struct vdev_vu_backend *b, unsigned ring, uint64_t iova,
                        uint64_t len, uint32_t access);
/* The vq's miss callback (virtq.h), on the ring's worker; opaque is the ring. */
void vu_iotlb_ring_miss(void *opaque, uint64_t iova, uint32_t access);
/* The memory table changed to mem (rings halted): the IOTLB's entries are made
 * again on it, before the old table goes. Entries whose user addresses left
 * the table are dropped. */
void vu_iotlb_rebuild(struct vdev_vu_backend *b, struct vdev_mem *mem);
/* Frees the IOTLB (before the memory table) and the miss eventfd. */
void vu_iotlb_release(struct vdev_vu_backend *b);

/* --- backend_events.c ------------------------------------------------------ */

/* The eventfd workers report broken rings on, made if not yet there: before a
 * ring runs. 0, or the eventfd's or the loop's error. */
int  vu_events_prepare(struct vdev_vu_backend *b);
/* The vq's broken callback (virtq.h), on the ring's worker; opaque is the ring. */
void vu_ring_broken(void *opaque, int err);
/* Tells the front-end that ring r is broken, once per start: NEEDS_RESET, and
 * its error eventfd, or BACKEND_VRING_ERR in-band when it gave none. */
void vu_ring_report_broken(struct vdev_vu_backend *b, struct vu_ring *r);
void vu_events_release(struct vdev_vu_backend *b);

/* --- backend_state.c ------------------------------------------------------- */

void vu_xfer_release(struct vdev_vu_backend *b);

/* --- handlers ---------------------------------------------------------------- */

#define VU_HANDLER(n) int n(struct vdev_vu_backend *b, struct vu_msg *m)
VU_HANDLER(vu_h_get_features);
VU_HANDLER(vu_h_set_features);
VU_HANDLER(vu_h_set_owner);
VU_HANDLER(vu_h_reset_owner);
VU_HANDLER(vu_h_get_protocol_features);
VU_HANDLER(vu_h_set_protocol_features);
VU_HANDLER(vu_h_get_queue_num);
VU_HANDLER(vu_h_reset_device);
VU_HANDLER(vu_h_set_status);
VU_HANDLER(vu_h_get_status);
VU_HANDLER(vu_h_set_mem_table);
VU_HANDLER(vu_h_add_mem_reg);
VU_HANDLER(vu_h_rem_mem_reg);
VU_HANDLER(vu_h_get_max_mem_slots);
VU_HANDLER(vu_h_set_log_base);
VU_HANDLER(vu_h_set_log_fd);
VU_HANDLER(vu_h_set_vring_num);
VU_HANDLER(vu_h_set_vring_addr);
VU_HANDLER(vu_h_set_vring_base);
VU_HANDLER(vu_h_get_vring_base);
VU_HANDLER(vu_h_set_vring_kick);
VU_HANDLER(vu_h_set_vring_call);
VU_HANDLER(vu_h_set_vring_err);
VU_HANDLER(vu_h_set_vring_enable);
VU_HANDLER(vu_h_vring_kick);
VU_HANDLER(vu_h_get_config);
VU_HANDLER(vu_h_set_config);
VU_HANDLER(vu_h_set_backend_req_fd);
VU_HANDLER(vu_h_net_set_mtu);
VU_HANDLER(vu_h_get_inflight_fd);
VU_HANDLER(vu_h_set_inflight_fd);
VU_HANDLER(vu_h_set_device_state_fd);
VU_HANDLER(vu_h_check_device_state);
VU_HANDLER(vu_h_iotlb_msg);

#endif
