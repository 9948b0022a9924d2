/* client_internal.h — the layout behind struct vdev_vfuc, shared by:
 *
 *   client.c       connect, close, one command out and its reply in, checked
 *   client_version.c  VERSION: the offer, the reply's checks
 *   client_info.c  device, region, irq and io fd information
 *   client_cmds.c  DMA maps, irqs, region access, reset
 *   client_dma.c   our memory the server reaches by DMA_READ/WRITE
 *   client_mig.c   migration: DEVICE_FEATURE, MIG_DATA_READ/WRITE
 * (one function per command of vfio_user_client.h) */
#ifndef VDEV_VFUC_INTERNAL_H
#define VDEV_VFUC_INTERNAL_H

#include "vdev/log.h"
#include "vdev/vfio_user_client.h"
#include "proto.h"

#define VFUC_LOG "vfio-user client: "

#define VFUC_DEFAULT_MAX_FDS 8u
/* The largest reply besides data: VERSION, or a region info with its caps. */
#define VFUC_REPLY_EXTRA     (sizeof(struct vfu_version) + VFU_VERSION_DATA_MAX)

/* A window we mapped without fd: the server reaches it by message. */
struct vfuc_window {
    uint64_t iova, size;
    uint8_t *host;
    uint32_t prot;
};

struct vdev_vfuc {
    int sock;
    int twin_fd;                  /* server-to-client commands, or -1 */
    struct vfuc_window *windows;
    size_t nwindows;
    int timeout_ms;
    uint16_t next_id;
    bool versioned;
    struct vdev_vfuc_caps caps;   /* the server's; defaults before VERSION */
    uint32_t my_max_fds;          /* what we announced */
    uint32_t my_max_xfer;
    uint8_t *buf;                 /* one message in: header + payload */
    size_t buf_cap;
    uint8_t *rx;                  /* main socket bytes read, not yet taken */
    size_t rx_have;               /* (buf_cap of them at most) */
};

/* A reply as received: its payload in c->buf after the header. */
struct vfuc_reply {
    const uint8_t *p;
    uint32_t size;
    int fds[VFUC_DEFAULT_MAX_FDS];
    size_t nfds;
};

/* Closes the connection after the server broke the protocol or went away. */
void vfuc_drop(struct vdev_vfuc *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends a command (header + payload, fds on its first byte) and, unless flags
 * has No_reply, waits for its reply: 0 with r filled (its fds now the
 * caller's, at most max_fds of them, else -EPROTO), the server's -errno for an
 * error reply, or a transport error (connection closed). */
int  vfuc_call(struct vdev_vfuc *c, uint16_t command, uint32_t flags,
               const void *payload, uint32_t size, const void *data, uint32_t data_size,
               const int *fds, size_t nfds, struct vfuc_reply *r, size_t max_fds);

/* Sends one message on sock (the main or the twin socket); drops nothing. */
int  vfuc_send_on(struct vdev_vfuc *c, int sock, const struct vfu_header *h,
                  const void *payload, uint32_t size, const void *data,
                  uint32_t data_size, const int *fds, size_t nfds);
/* Serves one message from the twin socket (closed on error). */
int  vfuc_twin_serve(struct vdev_vfuc *c);
/* Answers the server's command h, whose payload is in c->buf, on sock:
 * DMA_READ/DMA_WRITE from our windows, anything else ENOTSUP. 0 or the send's
 * error. */
int  vfuc_serve_command(struct vdev_vfuc *c, int sock, const struct vfu_header *h);
/* Our record of windows without fd. */
int  vfuc_window_add(struct vdev_vfuc *c, uint64_t iova, uint64_t size, void *host,
                     uint32_t prot);
void vfuc_window_remove(struct vdev_vfuc *c, uint64_t iova, uint64_t size, bool all);

/* A reply that is not what the spec says: its fds closed, the connection too;
 * returns -EPROTO. */
int  vfuc_bad_reply(struct vdev_vfuc *c, struct vfuc_reply *r, const char *what);

/* Checks a reply's payload is exactly want bytes: else -EPROTO, closed. */
int  vfuc_expect_size(struct vdev_vfuc *c, const struct vfuc_reply *r, uint32_t want,
                      const char *what);

#endif
