/* vhost_user_client.h — the vhost-user front-end: drives any vhost-user back-end
 * (vdev's, qemu-storage-daemon's, DPDK's) from plain userspace, with no VM, for
 * tests, benchmarks and users. It follows QEMU's docs/interop/vhost-user.rst; the
 * section names below are that document's.
 *
 * Two layers on one object, struct vdev_vuc:
 *
 *   requests     one call per front-end request. Each sends exactly the message
 *                the spec describes and checks the reply: the reply flag, the
 *                same request code, version 1, the exact payload size and fd
 *                count for that request. When REPLY_ACK is negotiated, requests
 *                that have no reply of their own are sent with NEED_REPLY and
 *                the ack is checked.
 *   convenience  negotiate, share guest memory (a sealed memfd), allocate rings
 *                and buffers in it, set queues up, submit, wait, reap, stop,
 *                inflight, the back-end channel, reconnect. A test is a few lines:
 *
 *     vdev_vuc_connect(path, 1000, &c);
 *     vdev_vuc_negotiate(c, want_features, want_protocol_features);
 *     vdev_vuc_mem_add(c, 16 << 20, NULL);
 *     vdev_vuc_queue_setup(c, 0, 256, 0);
 *     vdev_vuc_alloc(c, 4096, 64, &gpa);  ... fill vdev_vuc_host(c, gpa, 4096) ...
 *     vdev_vuc_submit(c, 0, &out, 1, &in, 1, false, &id);
 *     vdev_vuc_kick(c, 0);
 *     vdev_vuc_wait(c, 0, 1000);
 *     while (vdev_vuc_reap(c, 0, &id, &len) == 1) ...
 *     vdev_vuc_disconnect(c); vdev_vuc_reconnect(c, path, 1000);
 *     vdev_vuc_close(c);
 *
 * Everything the back-end sends is untrusted. A reply that breaks the protocol
 * (wrong code, no reply flag, wrong version, wrong size, unexpected fds), a
 * timeout or an I/O error closes the connection ("If front-end is unable to send
 * the full message or receives a wrong reply it will close the connection"): the
 * call returns the error, every fd that came with the reply is closed, and later
 * requests return -ENOTCONN until vdev_vuc_reconnect(). The errors:
 *   -ENOTCONN    no connection (never made, closed after an error, disconnected)
 *   -EPROTO      the back-end broke the protocol (connection now closed)
 *   -ETIMEDOUT   no complete reply in the timeout (connection now closed)
 *   -EPIPE, -ECONNRESET  the back-end went away (connection now closed)
 *   -EREMOTEIO   the back-end answered in due form that the request failed (a
 *                non-zero ack, an empty GET_CONFIG reply, ...): still connected
 *   -EOPNOTSUPP  the feature the spec requires for the request is not negotiated
 *   -EINVAL      bad arguments
 *
 * Threads: one thread at a time per client, for every call here, including the
 * back-end channel. While a request waits for its reply, messages that arrive on
 * the back-end channel are served (a back-end may wait for our answer before it
 * answers us), so the back-end handler may run inside any request call: it must
 * not make requests itself. */
#ifndef VDEV_VHOST_USER_CLIENT_H
#define VDEV_VHOST_USER_CLIENT_H

#include <linux/vhost_types.h>
#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_vuc;
struct vdev_mem;
struct vdev_vqd_buf;          /* virtq_driver.h */

/* Feature bit 30: the back-end speaks GET/SET_PROTOCOL_FEATURES ("Communication"). */
#define VDEV_VUC_F_PROTOCOL_FEATURES 30

/* Protocol feature bits ("Protocol features"). */
#define VDEV_VUC_PF_MQ                   0
#define VDEV_VUC_PF_LOG_SHMFD            1
#define VDEV_VUC_PF_RARP                 2
#define VDEV_VUC_PF_REPLY_ACK            3
#define VDEV_VUC_PF_MTU                  4
#define VDEV_VUC_PF_BACKEND_REQ          5
#define VDEV_VUC_PF_CROSS_ENDIAN         6
#define VDEV_VUC_PF_CRYPTO_SESSION       7
#define VDEV_VUC_PF_PAGEFAULT            8
#define VDEV_VUC_PF_CONFIG               9
#define VDEV_VUC_PF_BACKEND_SEND_FD      10
#define VDEV_VUC_PF_HOST_NOTIFIER        11
#define VDEV_VUC_PF_INFLIGHT_SHMFD       12
#define VDEV_VUC_PF_RESET_DEVICE         13
#define VDEV_VUC_PF_INBAND_NOTIFICATIONS 14
#define VDEV_VUC_PF_CONFIGURE_MEM_SLOTS  15
#define VDEV_VUC_PF_STATUS               16
#define VDEV_VUC_PF_XEN_MMAP             17
#define VDEV_VUC_PF_SHARED_OBJECT        18
#define VDEV_VUC_PF_DEVICE_STATE         19

/* The protocol features this client implements. CRYPTO_SESSION, PAGEFAULT
 * (postcopy), XEN_MMAP (a longer region description) and SHARED_OBJECT are not:
 * vdev_vuc_set_protocol_features() refuses them and vdev_vuc_negotiate() leaves
 * them out. */
#define VDEV_VUC_PF_SUPPORTED                                                   \
    (((1ull << 20) - 1) & ~((1ull << VDEV_VUC_PF_CRYPTO_SESSION) |              \
                            (1ull << VDEV_VUC_PF_PAGEFAULT) |                   \
                            (1ull << VDEV_VUC_PF_XEN_MMAP) |                    \
                            (1ull << VDEV_VUC_PF_SHARED_OBJECT)))

#define VDEV_VUC_DEFAULT_TIMEOUT_MS 30000
#define VDEV_VUC_MAX_QUEUES         256   /* bits 0-7 of SET_VRING_KICK/CALL/ERR */
#define VDEV_VUC_MAX_CONFIG         256   /* GET_CONFIG / SET_CONFIG bytes */
#define VDEV_VUC_MEM_TABLE_MAX      8     /* regions in one SET_MEM_TABLE */
#define VDEV_VUC_MAX_MSG_FDS        8     /* fds the back-end may attach to a message */

/* ---- connection ------------------------------------------------------------ */

/* Connects to the back-end listening at path. A back-end that is starting
 * (no socket yet, or not listening) is retried for up to retry_ms (0: once).
 * 0, -ENAMETOOLONG, -ENOMEM, or the connect error (-ENOENT, -ECONNREFUSED, ...). */
VDEV_API int  vdev_vuc_connect(const char *path, int retry_ms, struct vdev_vuc **out);

/* A client on a connected AF_UNIX stream socket, which it now owns. */
VDEV_API int  vdev_vuc_attach(int fd, struct vdev_vuc **out);

/* Closes the connection and the back-end channel, frees queues, memory and the
 * inflight fd. Sends nothing. NULL is a no-op. */
VDEV_API void vdev_vuc_close(struct vdev_vuc *c);

/* How long a request waits for its whole reply (and to send); -1 for ever.
 * Default VDEV_VUC_DEFAULT_TIMEOUT_MS. */
VDEV_API void vdev_vuc_set_timeout(struct vdev_vuc *c, int timeout_ms);
VDEV_API bool vdev_vuc_connected(const struct vdev_vuc *c);

/* ---- one call per front-end request ("Front-end message types") -------------
 *
 * Each returns 0 or a negative errno as above. Fds passed in stay the caller's. */

VDEV_API int vdev_vuc_get_features(struct vdev_vuc *c, uint64_t *features);
VDEV_API int vdev_vuc_set_features(struct vdev_vuc *c, uint64_t features);
/* Only when the back-end offered bit 30 in GET_FEATURES (else -EOPNOTSUPP). The
 * set refuses bits outside VDEV_VUC_PF_SUPPORTED; the client takes what it sets
 * as negotiated (REPLY_ACK applies from the next request on). */
VDEV_API int vdev_vuc_get_protocol_features(struct vdev_vuc *c, uint64_t *pf);
VDEV_API int vdev_vuc_set_protocol_features(struct vdev_vuc *c, uint64_t pf);
VDEV_API int vdev_vuc_set_owner(struct vdev_vuc *c);
VDEV_API int vdev_vuc_reset_owner(struct vdev_vuc *c);   /* deprecated by the spec */

/* A memory region description, with the fd it is mapped from. */
struct vdev_vuc_region {
    uint64_t gpa;          /* guest address */
    uint64_t size;
    uint64_t user_addr;    /* the front-end's own address of gpa */
    uint64_t mmap_offset;  /* where gpa lies in the fd */
    int fd;
};

/* 1..VDEV_VUC_MEM_TABLE_MAX regions, their fds in the same order. */
VDEV_API int vdev_vuc_set_mem_table(struct vdev_vuc *c, const struct vdev_vuc_region *r,
                                    unsigned n);
/* CONFIGURE_MEM_SLOTS. ADD sends r->fd; REM sends no fd (r->fd is ignored). */
VDEV_API int vdev_vuc_add_mem_reg(struct vdev_vuc *c, const struct vdev_vuc_region *r);
VDEV_API int vdev_vuc_rem_mem_reg(struct vdev_vuc *c, const struct vdev_vuc_region *r);
VDEV_API int vdev_vuc_get_max_mem_slots(struct vdev_vuc *c, uint64_t *slots);

/* LOG_SHMFD: the dirty log is size bytes of fd from offset on. The back-end's
 * reply may be empty or one u64 (back-ends differ; the spec says "N/A"). */
VDEV_API int vdev_vuc_set_log_base(struct vdev_vuc *c, int fd, uint64_t size,
                                   uint64_t offset);

VDEV_API int vdev_vuc_set_vring_num(struct vdev_vuc *c, uint32_t index, uint32_t num);
VDEV_API int vdev_vuc_set_vring_addr(struct vdev_vuc *c, const struct vhost_vring_addr *a);
/* Split: the next available index in bits 0-15. Packed: bits 0-14 next available
 * descriptor, 15 driver wrap counter, 16-30 next used descriptor, 31 device wrap
 * counter ("Vring descriptor indices for packed virtqueues"). */
VDEV_API int vdev_vuc_set_vring_base(struct vdev_vuc *c, uint32_t index, uint32_t base);
/* Stops the ring and returns its base, as above. -EPROTO if the reply names
 * another ring. */
VDEV_API int vdev_vuc_get_vring_base(struct vdev_vuc *c, uint32_t index, uint32_t *base);
/* index 0..255; fd -1 sends the "invalid FD" bit 8 and no fd (polling). */
VDEV_API int vdev_vuc_set_vring_kick(struct vdev_vuc *c, uint32_t index, int fd);
VDEV_API int vdev_vuc_set_vring_call(struct vdev_vuc *c, uint32_t index, int fd);
VDEV_API int vdev_vuc_set_vring_err(struct vdev_vuc *c, uint32_t index, int fd);
VDEV_API int vdev_vuc_get_queue_num(struct vdev_vuc *c, uint64_t *num);   /* MQ */
/* Only with feature bit 30 offered. */
VDEV_API int vdev_vuc_set_vring_enable(struct vdev_vuc *c, uint32_t index, bool enable);
VDEV_API int vdev_vuc_vring_kick(struct vdev_vuc *c, uint32_t index); /* INBAND_NOTIFICATIONS */

/* CONFIG. size 1..VDEV_VUC_MAX_CONFIG. An empty GET_CONFIG reply is the
 * back-end's error: -EREMOTEIO. flags: 0, or 1 for live migration. */
VDEV_API int vdev_vuc_get_config(struct vdev_vuc *c, uint32_t offset, void *buf,
                                 uint32_t size);
VDEV_API int vdev_vuc_set_config(struct vdev_vuc *c, uint32_t offset, const void *buf,
                                 uint32_t size, uint32_t flags);

/* "Inflight description". */
struct vdev_vuc_inflight {
    uint64_t mmap_size;
    uint64_t mmap_offset;
    uint16_t num_queues;
    uint16_t queue_size;
};

/* INFLIGHT_SHMFD. get: *fd is the back-end's area (the caller's to close), checked
 * to be a file at least mmap_offset + mmap_size long; a reply with mmap_size 0
 * and no fd means no area: *fd is -1. */
VDEV_API int vdev_vuc_get_inflight_fd(struct vdev_vuc *c, uint16_t num_queues,
                                      uint16_t queue_size,
                                      struct vdev_vuc_inflight *out, int *fd);
VDEV_API int vdev_vuc_set_inflight_fd(struct vdev_vuc *c,
                                      const struct vdev_vuc_inflight *in, int fd);
VDEV_API int vdev_vuc_reset_device(struct vdev_vuc *c);          /* RESET_DEVICE */
VDEV_API int vdev_vuc_set_status(struct vdev_vuc *c, uint8_t status);   /* STATUS */
VDEV_API int vdev_vuc_get_status(struct vdev_vuc *c, uint8_t *status);
VDEV_API int vdev_vuc_set_backend_req_fd(struct vdev_vuc *c, int fd);   /* BACKEND_REQ */

/* IOTLB_MSG ("IOMMU support"), only with VIRTIO_F_IOMMU_PLATFORM acked (bit 33;
 * -EOPNOTSUPP otherwise): the back-end's u64 answer, non-zero -EREMOTEIO.
 * update maps [iova, iova + size) to this process's user addresses from
 * user_addr (inside the memory table) with perm VHOST_ACCESS_RO, _WO or _RW;
 * invalidate unmaps what lies in [iova, iova + size). msg is sent as given (any
 * type), for callers that test a back-end. A MISS from the back-end reaches the
 * back-end handler as VDEV_VUC_BACKEND_IOTLB_MSG. */
VDEV_API int vdev_vuc_iotlb_msg(struct vdev_vuc *c, const struct vhost_iotlb_msg *msg);
VDEV_API int vdev_vuc_iotlb_update(struct vdev_vuc *c, uint64_t iova, uint64_t size,
                                   uint64_t user_addr, uint8_t perm);
VDEV_API int vdev_vuc_iotlb_invalidate(struct vdev_vuc *c, uint64_t iova, uint64_t size);

/* DEVICE_STATE. direction 0 save, 1 load; phase 0 stopped. fd is the caller's end
 * of the transfer channel; *backend_fd is -1, or the back-end's own channel,
 * which the caller must use instead (and close). A non-zero error in bits 0-7
 * is -EREMOTEIO; an error with an fd is -EPROTO. */
VDEV_API int vdev_vuc_set_device_state_fd(struct vdev_vuc *c, uint32_t direction,
                                          uint32_t phase, int fd, int *backend_fd);
VDEV_API int vdev_vuc_check_device_state(struct vdev_vuc *c);

/* ---- convenience: negotiation --------------------------------------------- */

/* Features vdev_vuc_negotiate() never acks, whatever is asked: IOMMU_PLATFORM
 * (bit 33) makes every ring and buffer address an IOVA that the front-end maps
 * with IOTLB_MSG, and the queues here address the back-end by guest address
 * and answer no IOTLB miss. A caller that drives the IOTLB itself acks it with
 * vdev_vuc_set_features() and vdev_vuc_iotlb_update(). */
#define VDEV_VUC_F_NOT_NEGOTIATED (1ull << 33)

/* SET_OWNER, GET_FEATURES, and when bit 30 is offered GET_PROTOCOL_FEATURES and
 * SET_PROTOCOL_FEATURES (protocol_features & offered & VDEV_VUC_PF_SUPPORTED;
 * INBAND_NOTIFICATIONS is dropped unless BACKEND_REQ and REPLY_ACK are both in),
 * then SET_FEATURES (features & offered & ~VDEV_VUC_F_NOT_NEGOTIATED, plus bit
 * 30 when offered), GET_QUEUE_NUM
 * (MQ), GET_MAX_MEM_SLOTS (CONFIGURE_MEM_SLOTS) and the back-end channel
 * (BACKEND_REQ). The wishes are kept for vdev_vuc_reconnect(). */
VDEV_API int vdev_vuc_negotiate(struct vdev_vuc *c, uint64_t features,
                                uint64_t protocol_features);
VDEV_API uint64_t vdev_vuc_features(const struct vdev_vuc *c);          /* acked */
VDEV_API uint64_t vdev_vuc_protocol_features(const struct vdev_vuc *c); /* set */
/* GET_QUEUE_NUM's answer, or 0 when MQ was not negotiated. */
VDEV_API uint64_t vdev_vuc_queue_num(const struct vdev_vuc *c);

/* ---- convenience: guest memory --------------------------------------------- */

/* A new region of size bytes (a multiple of the page size): a memfd sealed with
 * F_SEAL_SHRINK, mapped through the client's vdev_mem map, placed after the
 * previous region (the first at guest address 0), shared with ADD_MEM_REG when
 * CONFIGURE_MEM_SLOTS is negotiated, else with a SET_MEM_TABLE of every region.
 * User addresses are this process's addresses of the mapping. Its guest address
 * in *gpa (may be NULL). After vdev_vuc_negotiate(). -ENOSPC past
 * VDEV_VUC_MEM_TABLE_MAX regions (or the back-end's slots). */
VDEV_API int  vdev_vuc_mem_add(struct vdev_vuc *c, uint64_t size, uint64_t *gpa);
/* The client's map of guest memory (for vdev_mem_read/write), or NULL. */
VDEV_API struct vdev_mem *vdev_vuc_mem(struct vdev_vuc *c);
/* This process's pointer to [gpa, gpa + len), or NULL unless it is all in one
 * region. */
VDEV_API void *vdev_vuc_host(struct vdev_vuc *c, uint64_t gpa, uint64_t len);

/* A first-fit allocator over the regions: size bytes aligned to align (a power of
 * two). 0, -EINVAL, -ENOMEM (no room). Free takes back exactly what was
 * allocated: -EINVAL if [gpa, gpa + size) is not allocated memory. */
VDEV_API int  vdev_vuc_alloc(struct vdev_vuc *c, uint64_t size, uint64_t align,
                             uint64_t *gpa);
VDEV_API int  vdev_vuc_free(struct vdev_vuc *c, uint64_t gpa, uint64_t size);

/* ---- convenience: queues ---------------------------------------------------- */

/* Sets queue index up with size entries, split or packed, event index and
 * indirect descriptors as negotiated (VIRTIO_F_RING_PACKED,
 * VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC), indirect_max entries per
 * indirect table (0: min(size, 16)). Allocates the rings in guest memory, makes
 * the driver side on them and a kick and a call eventfd, then sends
 * SET_VRING_NUM, SET_VRING_ADDR (user addresses; log address the used ring's
 * guest address; VHOST_VRING_F_LOG when VHOST_F_LOG_ALL is acked),
 * SET_VRING_BASE (a fresh ring: split 0, packed both wrap counters 1),
 * SET_VRING_CALL, SET_VRING_KICK and, with bit 30, SET_VRING_ENABLE 1.
 * -EBUSY if the queue is set up, -ERANGE past the back-end's queue number,
 * -EINVAL before negotiation and memory. */
VDEV_API int vdev_vuc_queue_setup(struct vdev_vuc *c, uint16_t index, uint16_t size,
                                  uint16_t indirect_max);
/* SET_VRING_ENABLE 0 (with bit 30), then GET_VRING_BASE, which stops the ring:
 * its base in *base (may be NULL), kept for vdev_vuc_queue_start(). Requests in
 * flight stay in flight. */
VDEV_API int vdev_vuc_queue_stop(struct vdev_vuc *c, uint16_t index, uint32_t *base);
/* Starts a stopped queue again at its kept base (the same messages as setup). */
VDEV_API int vdev_vuc_queue_start(struct vdev_vuc *c, uint16_t index);
/* Stops the queue if it runs, frees its driver side, eventfds and rings. */
VDEV_API void vdev_vuc_queue_free(struct vdev_vuc *c, uint16_t index);
/* The queue's eventfds (the client's), for a caller's own poll loop. */
VDEV_API int vdev_vuc_queue_fds(struct vdev_vuc *c, uint16_t index, int *kick_fd,
                                int *call_fd);

/* vdev_vqd_add() on the queue: *id comes back from vdev_vuc_reap(). */
VDEV_API int vdev_vuc_submit(struct vdev_vuc *c, uint16_t index,
                             const struct vdev_vqd_buf *out, unsigned n_out,
                             const struct vdev_vqd_buf *in, unsigned n_in,
                             bool indirect, uint16_t *id);
/* Publishes and kicks the kick eventfd if the back-end asked for it: 1, 0, -errno. */
VDEV_API int vdev_vuc_kick(struct vdev_vuc *c, uint16_t index);
/* Waits up to timeout_ms (-1: for ever) for used buffers: 1 when some may be
 * there (the call eventfd fired, or they were already), 0 on timeout. Serves the
 * back-end channel meanwhile (in-band VRING_CALL counts as a call). */
VDEV_API int vdev_vuc_wait(struct vdev_vuc *c, uint16_t index, int timeout_ms);
/* The next used buffer: 1 (id, len), 0 (none), -EPROTO (an id not outstanding). */
VDEV_API int vdev_vuc_reap(struct vdev_vuc *c, uint16_t index, uint16_t *id,
                           uint32_t *len);

/* ---- convenience: inflight --------------------------------------------------- */

/* GET_INFLIGHT_FD for num_queues queues of queue_size entries, then at once
 * SET_INFLIGHT_FD with what came back, as QEMU does before it starts the rings;
 * the area is kept and handed back again after a reconnect. Before any queue
 * runs (-EBUSY otherwise). */
VDEV_API int vdev_vuc_inflight_setup(struct vdev_vuc *c, uint16_t num_queues,
                                     uint16_t queue_size);
/* The kept area: its fd (still the client's) or -1, and its description. */
VDEV_API int vdev_vuc_inflight(const struct vdev_vuc *c, struct vdev_vuc_inflight *info);

/* ---- convenience: the back-end channel ("Back-end communication") ------------- */

#define VDEV_VUC_BACKEND_IOTLB_MSG              1
#define VDEV_VUC_BACKEND_CONFIG_CHANGE_MSG      2
#define VDEV_VUC_BACKEND_VRING_HOST_NOTIFIER_MSG 3
#define VDEV_VUC_BACKEND_VRING_CALL             4
#define VDEV_VUC_BACKEND_VRING_ERR              5

/* A back-end request, its size checked for its type. */
struct vdev_vuc_backend_req {
    uint32_t request;          /* VDEV_VUC_BACKEND_* */
    uint32_t flags;
    uint32_t size;
    union {
        uint64_t u64;
        struct vhost_vring_state state;      /* VRING_CALL, VRING_ERR */
        struct vhost_iotlb_msg iotlb;        /* IOTLB_MSG */
        struct { uint64_t u64, size, offset; } area;   /* VRING_HOST_NOTIFIER_MSG */
        uint8_t bytes[64];
    } payload;
    int fds[VDEV_VUC_MAX_MSG_FDS];   /* borrowed: closed after the handler returns */
    unsigned nfds;
};

/* Returns 0 (the request succeeded) or a negative errno; the reply, when the
 * back-end set NEED_REPLY, is 0 or non-zero accordingly. Called after the
 * client's own handling (CONFIG_CHANGE_MSG counts; VRING_CALL signals the
 * queue's call eventfd; VRING_ERR is logged), and not for a request that failed
 * there (a call for a queue not set up) or whose feature is not negotiated.
 * Without a handler the answer is 0 for those three and failure for the others
 * (IOTLB_MSG, VRING_HOST_NOTIFIER_MSG). */
typedef int (*vdev_vuc_backend_fn)(void *opaque, const struct vdev_vuc_backend_req *req);
VDEV_API void vdev_vuc_set_backend_handler(struct vdev_vuc *c, vdev_vuc_backend_fn fn,
                                           void *opaque);

/* A socketpair; one end goes to the back-end with SET_BACKEND_REQ_FD, the client
 * keeps the other. vdev_vuc_negotiate() does this when BACKEND_REQ is negotiated. */
VDEV_API int vdev_vuc_backend_open(struct vdev_vuc *c);
/* The client's end, to poll for POLLIN, or -1. */
VDEV_API int vdev_vuc_backend_fd(const struct vdev_vuc *c);
/* Serves one back-end request, waiting up to timeout_ms for it: 1 (served),
 * 0 (none came), -ENOTCONN (no channel), -EPROTO (a malformed request: the channel
 * is closed), -ECONNRESET (the back-end closed it). */
VDEV_API int vdev_vuc_backend_process(struct vdev_vuc *c, int timeout_ms);
/* CONFIG_CHANGE_MSG requests received so far. */
VDEV_API uint64_t vdev_vuc_config_changes(const struct vdev_vuc *c);

/* ---- convenience: reconnect ------------------------------------------------------ */

/* Closes the connection (and the back-end channel) and keeps everything else.
 * Running queues keep a base to resume from, as a front-end does when its
 * back-end vanishes: split, the used index in the ring; packed, the position
 * after the last used descriptor, for both halves. */
VDEV_API void vdev_vuc_disconnect(struct vdev_vuc *c);

/* Connects again (as vdev_vuc_connect() or vdev_vuc_attach()) and replays the
 * set-up, as QEMU does with reconnect=1: the negotiation (which must give the
 * same features: -ENOTSUP otherwise), the memory regions (same memfds),
 * SET_INFLIGHT_FD with the kept area, then every queue that ran at the
 * disconnect, at its kept base. */
VDEV_API int vdev_vuc_reconnect(struct vdev_vuc *c, const char *path, int retry_ms);
VDEV_API int vdev_vuc_reconnect_fd(struct vdev_vuc *c, int fd);

#ifdef __cplusplus
}
#endif

#endif
