/* server_internal.h — the layout behind struct vdev_vfu_server, shared by the
 * server's files:
 *
 *   server.c          create, free, listen, accept, a connection's end
 *   server_reader.c   the buffered reader: bytes and fds in, whole messages out
 *   server_msg.c      one message: header checks, the command table, the reply
 *   server_version.c  VERSION and the capabilities
 *   server_dma.c      DMA_MAP, DMA_UNMAP, the map of windows
 *   server_device.c   DEVICE_GET_INFO, _GET_REGION_INFO, _GET_IRQ_INFO,
 *                     REGION_READ, REGION_WRITE, REGION_WRITE_MULTI, DEVICE_RESET
 *   server_irq.c      DEVICE_SET_IRQS, the eventfds per index and vector
 *   server_dma_io.c   DMA_READ / DMA_WRITE to the client over the twin socket
 *   server_io_fds.c   DEVICE_GET_REGION_IO_FDS
 *   server_mig.c      DEVICE_FEATURE (migration), MIG_DATA_READ/WRITE
 *
 * Everything here runs on the control loop's thread. */
#ifndef VDEV_VFU_SERVER_INTERNAL_H
#define VDEV_VFU_SERVER_INTERNAL_H

#include "vdev/loop.h"
#include "vdev/mem.h"
#include "vdev/sock.h"
#include "vdev/vfio_user.h"
#include "proto.h"

/* The largest fixed part of a command we take besides data: SET_IRQS with one
 * bool per vector for the largest irq index (MSI-X has at most 2048). */
#define VFU_MAX_IRQ_VECTORS  65536u

/* REGION_WRITE_MULTI takes at most this many writes in one message. */
#define VFU_WRITE_MULTI_MAX  4096u

/* fds waiting for the message they came with; more is a hostile client. */
#define VFU_PENDING_FDS_MAX  512u

/* Bytes and fds as they arrive, cut into messages (server_reader.c).
 *
 * On a UNIX stream socket the kernel ends a recvmsg() with the first chunk of
 * data that carries fds, so the fds of one receive belong to the message that
 * holds its last byte (senders attach them to a message's first sendmsg()).
 * Each fd is kept with that byte's position in the stream until its message is
 * complete. */
struct vfu_pending_fd {
    uint64_t pos;                 /* stream position of the receive's last byte */
    int fd;                       /* -1: fds were lost here (MSG_CTRUNC) */
};

struct vfu_reader {
    uint8_t *buf;
    size_t cap;                   /* the largest message we take */
    size_t head, tail;            /* unread bytes are buf[head, tail) */
    uint64_t base;                /* stream position of buf[0] */
    struct vfu_pending_fd fds[VFU_PENDING_FDS_MAX];
    size_t nfds;
};

/* One command as received; its fds stay the reader's until the message is
 * done, unless a handler takes one (sets it to -1). */
struct vfu_msg {
    /* (the io fds reply keeps its distinct fds here) */
    int io_fds[VDEV_VFU_MAX_IO_FDS];
    struct vfu_header hdr;
    const uint8_t *p;             /* payload */
    uint32_t size;                /* payload bytes */
    int fds[VDEV_SOCK_MAX_FDS];
    size_t nfds;
    bool fds_lost;                /* more than max_msg_fds came, or MSG_CTRUNC */

    /* the reply a handler prepares */
    uint8_t *r;                   /* reply payload buffer */
    uint32_t reply_size;
    int reply_fd;                 /* sent with the reply; closed after it when */
    bool reply_fd_owned;          /* the handler made it (the twin socket) */
    const int *reply_fds;         /* or several, borrowed (reply_fd then -1) */
    size_t reply_nfds;
    bool close_after;             /* drop the connection after the reply */
};

/* One DMA window, as the client mapped it. */
struct vfu_dma {
    uint64_t iova, size;
    uint32_t prot;                /* VFU_DMA_F_READ | VFU_DMA_F_WRITE */
    bool shared;                  /* came with an fd: in the vdev_mem */
};

/* The eventfds and state of one irq index ("VFIO_USER_DEVICE_SET_IRQS"). */
struct vfu_irq_index {
    uint32_t count;               /* vectors, as irq_info said when allocated */
    int *trigger, *mask_ev, *unmask_ev;
    bool *masked, *pending;
};

struct vfu_conn {
    int fd;                       /* -1: no client */
    struct vdev_watch *watch;
    char peer[32];
    bool versioned;
    uint32_t client_max_fds;      /* fds the client takes in one reply */
    uint64_t client_max_xfer;
    uint64_t pgsizes;             /* negotiated */
    int twin_fd;                  /* server-to-client commands, or -1 */
    bool write_multiple;          /* negotiated: REGION_WRITE_MULTI served */
    uint16_t next_id;             /* of our commands on the twin socket */
    struct vfu_reader rd;
    uint8_t *reply;               /* reply payload buffer, reply_cap bytes */
    struct vdev_mem *mem;
    struct vfu_dma *dma;          /* sorted by iova, no overlap */
    size_t ndma, dma_cap;
};

struct vdev_vfu_server {
    struct vdev_loop *loop;
    const struct vdev_vfu_device_ops *ops;
    void *opaque;
    void (*on_disconnect)(void *opaque);

    int listen_fd;
    struct vdev_watch *listen_watch;
    char *path;
    bool conn_only;               /* served a --fd: no listener */

    uint32_t max_fds, max_xfer, max_maps;
    uint64_t pgsizes;
    int timeout_ms;
    size_t msg_max;               /* largest message: header + payload */
    size_t reply_cap;             /* largest reply payload */

    uint32_t mig_state;           /* enum vfio_device_mig_state (device state:
                                   * kept across clients) */
    struct vfu_irq_index *irqs;   /* per irq index, num_irqs of them */
    uint32_t nirqs;

    struct vfu_conn c;
    bool freeing;
};

/* --- server.c ----------------------------------------------------------------- */

/* Ends the connection: unmaps DMA, closes irq fds, listens again. */
void vfu_conn_drop(struct vdev_vfu_server *s, const char *why);
/* Logs a client mistake with the peer's name; returns err. */
int  vfu_bad(const struct vdev_vfu_server *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* --- server_reader.c ---------------------------------------------------------- */

int  vfu_reader_init(struct vfu_reader *rd, size_t cap);
void vfu_reader_release(struct vfu_reader *rd);
/* One recvmsg(): 1 when bytes came, 0 on EAGAIN, -ECONNRESET at end of stream
 * (-EPROTO if it cut a message), -E2BIG with too many fds pending, or an errno. */
int  vfu_reader_fill(struct vfu_reader *rd, int sock);
/* The next whole message into *m (header, payload, its fds, at most max_fds):
 * 1, or 0 when it has not fully arrived, or -EBADMSG (msg_size < 16) or
 * -EMSGSIZE (above the reader's cap): the stream cannot be trusted. */
int  vfu_reader_next(struct vfu_reader *rd, struct vfu_msg *m, size_t max_fds);

/* --- server_msg.c -------------------------------------------------------------- */

/* Reads what is there and serves every whole message; 0, or an error after
 * which the connection must be dropped. */
int  vfu_serve(struct vdev_vfu_server *s);

/* --- server_device.c ------------------------------------------------------------ */

int  vfu_device_info(struct vdev_vfu_server *s, struct vdev_vfu_device_info *info);
/* The device's region index, checked against num_regions (-EINVAL, logged). */
int  vfu_region_get(struct vdev_vfu_server *s, uint32_t index, struct vdev_vfu_region *r);

/* --- handlers --------------------------------------------------------------------- */

#define VFU_HANDLER(n) int n(struct vdev_vfu_server *s, struct vfu_msg *m)
VFU_HANDLER(vfu_h_version);
VFU_HANDLER(vfu_h_dma_map);
VFU_HANDLER(vfu_h_dma_unmap);
VFU_HANDLER(vfu_h_device_get_info);
VFU_HANDLER(vfu_h_region_info);
VFU_HANDLER(vfu_h_irq_info);
VFU_HANDLER(vfu_h_set_irqs);
VFU_HANDLER(vfu_h_region_read);
VFU_HANDLER(vfu_h_region_write);
VFU_HANDLER(vfu_h_region_write_multi);
VFU_HANDLER(vfu_h_region_io_fds);
VFU_HANDLER(vfu_h_device_feature);
VFU_HANDLER(vfu_h_mig_data_read);
VFU_HANDLER(vfu_h_mig_data_write);
VFU_HANDLER(vfu_h_reset);

/* --- server_dma.c / server_irq.c ------------------------------------------------ */

/* Tells the device the DMA map is about to change (true) or has (false). */
void vfu_dma_quiesce(struct vdev_vfu_server *s, bool quiesce);
void vfu_dma_release(struct vdev_vfu_server *s);
/* The window holding [iova, iova + len), or NULL. */
const struct vfu_dma *vfu_dma_find(const struct vdev_vfu_server *s, uint64_t iova,
                                   uint64_t len);
/* Closes every irq eventfd of the client; masks stay (device state). */
void vfu_irqs_release(struct vdev_vfu_server *s);
void vfu_irqs_free(struct vdev_vfu_server *s);

#endif
