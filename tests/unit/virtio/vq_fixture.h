/* vq_fixture.h — real guest memory for the virtqueue tests.
 *
 * A memfd is mapped twice: through a vdev_mem map (what the device and the
 * driver library use) and by the test itself as "the guest", which can write
 * rings by hand to play a hostile driver. Two queues share the memory; each has
 * its own rings, indirect area and call eventfd. A second, read-only region and
 * an unmapped hole sit at fixed addresses. */
#ifndef VDEV_TEST_VQ_FIXTURE_H
#define VDEV_TEST_VQ_FIXTURE_H

#include <linux/virtio_ring.h>

#include "helpers.h"
#include "vdev/mem.h"
#include "vdev/virtq.h"
#include "vdev/virtq_driver.h"

#define FX_GPA_BASE  0x40000000ull   /* the read-write region */
#define FX_HOLE_GPA  0x7ff00000ull   /* nothing mapped here */
#define FX_RO_GPA    0x80000000ull   /* a read-only region */
#define FX_RO_SIZE   0x10000ull
#define FX_QUEUES    2
#define FX_BUFS      256
#define FX_BUF_SIZE  4096u
#define FX_IOV       64
#define FX_IND_MAX   16              /* entries per indirect table (driver) */

struct fx_queue {
    uint64_t desc_gpa, driver_gpa, device_gpa, indirect_gpa;
    int call_fd;
    struct vdev_vq *vq;
    struct vdev_vqd *drv;
    struct vdev_vq_config cfg;
};

struct fx {
    uint16_t size;
    bool packed, event_idx, indirect;
    int fds_before;
    int memfd, ro_fd;
    uint64_t mem_size;
    uint8_t *guest;                  /* the test's own mapping of the memfd */
    struct vdev_mem *mem;
    struct fx_queue q[FX_QUEUES];
    uint64_t buf_gpa;                /* FX_BUFS buffers of FX_BUF_SIZE bytes */
    unsigned next_buf;
    struct iovec iov[FX_IOV];
    uint64_t iov_gpa[FX_IOV];
    struct vdev_vq_req req;
};

/* Memory, rings, drivers (ring memory zeroed) and stopped device queues. */
struct fx *fx_new(uint16_t size, bool packed, bool event_idx, bool indirect);
/* Frees everything and checks no fd leaked. */
void fx_free(struct fx *f);

/* Starts device queue qi with its default config (a fresh ring). */
void fx_start(struct fx *f, unsigned qi);

/* The test's view of guest address gpa in the read-write region. */
void *fx_host(struct fx *f, uint64_t gpa);
uint64_t fx_buf(struct fx *f, unsigned i);
/* The next buffer, round robin. */
uint64_t fx_next_buf(struct fx *f);

/* The driver library adds n_out readable and n_in writable buffers of len
 * bytes each, from fx_next_buf(); returns the id. */
uint16_t fx_add(struct fx *f, unsigned qi, unsigned n_out, unsigned n_in, uint32_t len,
                bool indirect);

/* Pops one request from qi into f->req: the return of vdev_vq_pop(). */
int fx_pop(struct fx *f, unsigned qi);

/* Pops every request of qi, fills each writable buffer with byte fill, pushes
 * it with all its writable bytes, and notifies. Returns the requests served or
 * the first error. */
int fx_serve(struct fx *f, unsigned qi, uint8_t fill);

/* Used buffer notifications counted on qi's call eventfd since the last call. */
uint64_t fx_calls(struct fx *f, unsigned qi);

/* Split rings as the guest sees them. */
struct vring_desc *fx_split_desc(struct fx *f, unsigned qi);
struct vring_avail *fx_split_avail(struct fx *f, unsigned qi);
struct vring_used *fx_split_used(struct fx *f, unsigned qi);
/* Puts head in the available ring and publishes it. */
void fx_split_offer(struct fx *f, unsigned qi, uint16_t head);
void fx_split_set_desc(struct fx *f, unsigned qi, uint16_t i, uint64_t addr,
                       uint32_t len, uint16_t flags, uint16_t next);

/* Packed ring as the guest sees it. */
struct vring_packed_desc *fx_packed_desc(struct fx *f, unsigned qi);
/* Writes descriptor pos with the AVAIL/USED bits of an available descriptor in
 * the lap of wrap counter wrap; the flags are stored last. */
void fx_packed_put(struct fx *f, unsigned qi, uint16_t pos, uint64_t addr, uint32_t len,
                   uint16_t id, uint16_t flags, bool wrap);

#endif
