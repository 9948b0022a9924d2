/* transport.h — what the request loop (job.c) needs of a transport to a
 * virtio-blk device, so that one loop, one histogram and one verify drive it
 * over vhost-user (vhost_transport.c) and over vfio-user as a virtio-pci
 * function (vfu_transport.c).
 *
 * Open connects and negotiates features; then the job reads the configuration,
 * sets up memory and queues, allocates its buffers, and runs. Every call returns
 * 0 (or what is said) or -errno; one thread at a time. */
#ifndef VDEV_BENCH_TRANSPORT_H
#define VDEV_BENCH_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev/virtq_driver.h"
#include "options.h"

struct bench_transport;

struct bench_transport_ops {
    /* Device configuration space (virtio 1.2, 5.2.4), little-endian:
     * -EOPNOTSUPP when the transport cannot read it. */
    int  (*read_config)(struct bench_transport *t, uint32_t off, void *buf, uint32_t len);
    /* Guest memory of mem_bytes shared with the device, and queues 0..nq-1 of
     * qsize entries in it, running. */
    int  (*setup)(struct bench_transport *t, uint64_t mem_bytes, uint16_t qsize,
                  unsigned nq);
    /* size bytes of guest memory aligned to align: its address and our view. */
    int  (*alloc)(struct bench_transport *t, uint64_t size, uint64_t align,
                  uint64_t *gpa, void **host);
    /* As vdev_vqd_add(); the device may not see it before kick. */
    int  (*submit)(struct bench_transport *t, uint16_t q, const struct vdev_vqd_buf *out,
                   unsigned n_out, const struct vdev_vqd_buf *in, unsigned n_in,
                   bool indirect, uint16_t *id);
    /* Publishes what was submitted on q and notifies the device if it asks. */
    int  (*kick)(struct bench_transport *t, uint16_t q);
    /* As vdev_vqd_get_used(): 1, 0 (none), -EPROTO. */
    int  (*reap)(struct bench_transport *t, uint16_t q, uint16_t *id, uint32_t *len);
    /* Sleeps until a queue with busy[q] set may have used buffers, or ms pass.
     * Re-arms the interrupts before looking, so none is slept through. */
    int  (*wait)(struct bench_transport *t, const bool *busy, unsigned nq, int ms);
    void (*close)(struct bench_transport *t);
};

struct bench_transport {
    const struct bench_transport_ops *ops;
    const char *name;              /* "vhost-user", "vfio-user" */
    uint64_t features;             /* negotiated */
    uint64_t queue_num;            /* queues the device serves; 0: unknown */
};

/* Connect to o->socket and negotiate want & what the device offers. The error
 * of connecting or of a request, after a line on stderr. */
int bench_vhost_open(const struct bench_options *o, uint64_t want,
                     struct bench_transport **out);
int bench_vfu_open(const struct bench_options *o, uint64_t want,
                   struct bench_transport **out);

#endif
