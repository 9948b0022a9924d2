/* vfu_transport.c — the job's transport over vfio-user: vdev's client
 * (vfio_user_client.h) plays a guest's virtio-pci driver the way Linux's
 * virtio_pci_modern does (virtio 1.2, 4.1): probe the capabilities, reset,
 * ACKNOWLEDGE, DRIVER, features, FEATURES_OK, MSI-X, queues through the common
 * configuration, DRIVER_OK. The rings and buffers live in a memfd given to the
 * server with DMA_MAP. Kicks write the queue's ioeventfd from
 * DEVICE_GET_REGION_IO_FDS, or else post a REGION_WRITE of the notify address;
 * completions arrive on the MSI-X eventfds given with SET_IRQS.
 *
 * Everything read from the function is checked before use: a capability out of
 * place, a BAR that does not exist, a queue smaller than asked for is an error. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "vdev/mem.h"
#include "vdev/vfio_user_client.h"
#include "vdev/virtq.h"
#include "transport.h"

#define BIT(n)          (1ull << (n))
#define VFU_IOVA        0x100000000ull   /* guest memory at 4 GiB, as a VMM might */
#define REQ_TIMEOUT_MS  10000
#define MAX_CAP_HOPS    48               /* 192 bytes of capabilities, 4 each at least */
#define MAX_IO_FDS      8                /* vfio_user_client.h: at most 8 fds */
#define INDIRECT_MAX    4                /* a request has 3 buffers */

struct vfu_cap {
    bool found;
    uint8_t bar;
    uint32_t off, len;
};

struct vfu_queue {
    struct vdev_vqd *drv;
    uint32_t notify_addr;            /* in the notify capability's BAR */
    int kick_fd;                     /* the ioeventfd (borrowed from io_fds), or -1 */
    int irq_fd;                      /* MSI-X vector q + 1 */
};

struct vfu_transport {
    struct bench_transport t;        /* first: the job's view */
    const struct bench_options *o;
    struct vdev_vfuc *c;
    struct vfu_cap common, notify, device;
    uint32_t notify_mult;
    unsigned msix_cap;
    uint16_t msix_vectors;
    struct vdev_mem *mem;
    int memfd;
    uint64_t mem_size, mem_used;
    int config_irq;
    unsigned nq;
    struct vfu_queue q[BENCH_MAX_QUEUES];
    int io_fds[MAX_IO_FDS];
    size_t n_io_fds;
};

static struct vfu_transport *vfu(struct bench_transport *t)
{
    return (struct vfu_transport *)t;
}

static int fail(int err, const char *what)
{
    fprintf(stderr, "vdev-bench: vfio-user: %s: %s\n", what, vdev_strerror(err));
    return err;
}

/* ---- config space and the common configuration, little-endian ----------------- */

static int cfg_read(struct vfu_transport *v, unsigned off, size_t len, uint32_t *val)
{
    uint32_t le = 0;
    int ret = vdev_vfuc_region_read(v->c, VFIO_PCI_CONFIG_REGION_INDEX, off, &le,
                                    (uint32_t)len);

    *val = le32toh(le);
    return ret;
}

static int cfg_write(struct vfu_transport *v, unsigned off, size_t len, uint32_t val)
{
    uint32_t le = htole32(val);

    return vdev_vfuc_region_write(v->c, VFIO_PCI_CONFIG_REGION_INDEX, off, &le,
                                  (uint32_t)len, false);
}

static int common_read(struct vfu_transport *v, unsigned off, size_t len, uint32_t *val)
{
    uint32_t le = 0;
    int ret = vdev_vfuc_region_read(v->c, v->common.bar, v->common.off + off, &le,
                                    (uint32_t)len);

    *val = le32toh(le);
    return ret;
}

static int common_write(struct vfu_transport *v, unsigned off, size_t len, uint32_t val)
{
    uint32_t le = htole32(val);

    return vdev_vfuc_region_write(v->c, v->common.bar, v->common.off + off, &le,
                                  (uint32_t)len, false);
}

/* ---- probe: the virtio structures and MSI-X (4.1.4) ------------------------------ */

static int read_cap(struct vfu_transport *v, unsigned at, struct vfu_cap *c)
{
    uint32_t bar, off, len;
    int ret;

    if ((ret = cfg_read(v, at + offsetof(struct virtio_pci_cap, bar), 1, &bar)) < 0 ||
        (ret = cfg_read(v, at + offsetof(struct virtio_pci_cap, offset), 4, &off)) < 0 ||
        (ret = cfg_read(v, at + offsetof(struct virtio_pci_cap, length), 4, &len)) < 0)
        return ret;
    /* 4.1.4: BARs 0x0-0x5 only; a structure must not wrap. */
    if (bar > 5 || (uint64_t)off + len > UINT32_MAX)
        return -EPROTO;
    *c = (struct vfu_cap){ true, (uint8_t)bar, off, len };
    return 0;
}

static int probe_vendor_cap(struct vfu_transport *v, unsigned at)
{
    uint32_t type;
    int ret = cfg_read(v, at + offsetof(struct virtio_pci_cap, cfg_type), 1, &type);

    if (ret < 0)
        return ret;
    /* 4.1.4: the first of each type is the one to use. */
    if (type == VIRTIO_PCI_CAP_COMMON_CFG && !v->common.found)
        return read_cap(v, at, &v->common);
    if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !v->device.found)
        return read_cap(v, at, &v->device);
    if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !v->notify.found) {
        ret = read_cap(v, at, &v->notify);
        if (ret == 0)
            ret = cfg_read(v, at + sizeof(struct virtio_pci_cap), 4, &v->notify_mult);
        return ret;
    }
    return 0;
}

static int probe(struct vfu_transport *v)
{
    uint32_t vendor, status, at, id, flags;
    unsigned hops = 0;
    int ret;

    if ((ret = cfg_read(v, PCI_VENDOR_ID, 2, &vendor)) < 0 ||
        (ret = cfg_read(v, PCI_STATUS, 2, &status)) < 0 ||
        (ret = cfg_read(v, PCI_CAPABILITY_LIST, 1, &at)) < 0)
        return fail(ret, "reading config space");
    if (vendor != 0x1af4 || !(status & PCI_STATUS_CAP_LIST))
        return fail(-ENODEV, "not a virtio-pci function");
    for (at &= ~3u; at; at &= ~3u) {
        if (at < 0x40 || at > 0xfc || ++hops > MAX_CAP_HOPS)
            return fail(-EPROTO, "capability list");
        if ((ret = cfg_read(v, at, 1, &id)) < 0)
            return fail(ret, "capability list");
        if (id == PCI_CAP_ID_VNDR)
            ret = probe_vendor_cap(v, at);
        else if (id == PCI_CAP_ID_MSIX && !v->msix_cap) {
            v->msix_cap = at;
            ret = cfg_read(v, at + PCI_MSIX_FLAGS, 2, &flags);
            v->msix_vectors = (uint16_t)((flags & PCI_MSIX_FLAGS_QSIZE) + 1);
        }
        if (ret < 0 || (ret = cfg_read(v, at + 1, 1, &at)) < 0)
            return fail(ret, "capability list");
    }
    if (!v->common.found || !v->notify.found || !v->device.found ||
        v->common.len < sizeof(struct virtio_pci_common_cfg))
        return fail(-EPROTO, "a virtio structure is missing (4.1.4)");
    if (!v->msix_cap)
        return fail(-ENOTSUP, "no MSI-X capability");
    ret = cfg_write(v, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    return ret < 0 ? fail(ret, "enabling the function") : 0;
}

/* ---- device status and features (3.1.1) --------------------------------------- */

static int add_status(struct vfu_transport *v, uint8_t bits)
{
    uint32_t s;
    int ret = common_read(v, VIRTIO_PCI_COMMON_STATUS, 1, &s);

    return ret < 0 ? ret : common_write(v, VIRTIO_PCI_COMMON_STATUS, 1, (s | bits) & 0xff);
}

/* 4.1.4.3.2: write 0, then wait until device_status reads 0. */
static int reset_device(struct vfu_transport *v)
{
    struct timespec pause = { 0, 1000000 };
    uint32_t s = 0;
    int ret = common_write(v, VIRTIO_PCI_COMMON_STATUS, 1, 0);

    for (int i = 0; ret == 0 && i < 1000; i++) {
        ret = common_read(v, VIRTIO_PCI_COMMON_STATUS, 1, &s);
        if (ret == 0 && s == 0)
            return 0;
        nanosleep(&pause, NULL);
    }
    return ret < 0 ? ret : -ETIMEDOUT;
}

static int negotiate_features(struct vfu_transport *v, uint64_t want)
{
    uint32_t lo, hi, s, numq;
    uint64_t offered;
    int ret;

    if ((ret = reset_device(v)) < 0)
        return fail(ret, "reset");
    if ((ret = add_status(v, VIRTIO_CONFIG_S_ACKNOWLEDGE)) < 0 ||
        (ret = add_status(v, VIRTIO_CONFIG_S_DRIVER)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_DFSELECT, 4, 0)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_DF, 4, &lo)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_DFSELECT, 4, 1)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_DF, 4, &hi)) < 0)
        return fail(ret, "reading the device's features");
    offered = (uint64_t)hi << 32 | lo;
    v->t.features = offered & want;
    if ((ret = common_write(v, VIRTIO_PCI_COMMON_GFSELECT, 4, 0)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)v->t.features)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_GFSELECT, 4, 1)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(v->t.features >> 32))) < 0 ||
        (ret = add_status(v, VIRTIO_CONFIG_S_FEATURES_OK)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_STATUS, 1, &s)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_NUMQ, 2, &numq)) < 0)
        return fail(ret, "setting features");
    /* 3.1.1 step 6: the device did not take the subset if FEATURES_OK is gone. */
    if (!(s & VIRTIO_CONFIG_S_FEATURES_OK))
        return fail(-ENOTSUP, "the device refused the features (FEATURES_OK)");
    v->t.queue_num = numq;
    return 0;
}

/* ---- the job's calls ------------------------------------------------------------- */

static int vf_read_config(struct bench_transport *t, uint32_t off, void *buf, uint32_t len)
{
    struct vfu_transport *v = vfu(t);

    uint8_t *p = buf;
    int ret = 0;

    if ((uint64_t)off + len > v->device.len)
        return -EINVAL;
    /* The device structure takes accesses of 1, 2 or 4 bytes, as a driver
     * makes them (4.1.3.1): the longest aligned one that fits, each time. */
    while (len && ret == 0) {
        uint32_t n = (off % 4 == 0 && len >= 4) ? 4 : (off % 2 == 0 && len >= 2) ? 2 : 1;

        ret = vdev_vfuc_region_read(v->c, v->device.bar, v->device.off + off, p, n);
        off += n;
        p += n;
        len -= n;
    }
    return ret;
}

static int vf_alloc(struct bench_transport *t, uint64_t size, uint64_t align,
                    uint64_t *gpa, void **host)
{
    struct vfu_transport *v = vfu(t);
    uint64_t at = (v->mem_used + align - 1) & ~(align - 1), len = size;

    if (!align || (align & (align - 1)) || !size)
        return -EINVAL;
    if (at > v->mem_size || size > v->mem_size - at)
        return -ENOMEM;
    *gpa = VFU_IOVA + at;
    *host = vdev_mem_translate(v->mem, *gpa, &len, VDEV_MEM_RW);
    if (!*host || len < size)
        return -ENOMEM;
    v->mem_used = at + size;
    return 0;
}

/* The guest's memory: a memfd, mapped here through a vdev_mem (the driver
 * rings translate through it) and given to the server with DMA_MAP. */
static int share_memory(struct vfu_transport *v, uint64_t bytes)
{
    struct vdev_mem_region r = { .gpa = VFU_IOVA, .size = bytes, .access = VDEV_MEM_RW };
    int ret;

    v->memfd = memfd_create("vdev-bench", MFD_CLOEXEC);
    if (v->memfd < 0)
        return fail(-errno, "memfd_create");
    if (ftruncate(v->memfd, (off_t)bytes) < 0)
        return fail(-errno, "sizing guest memory");
    r.fd = v->memfd;
    if ((ret = vdev_mem_new(&v->mem)) < 0 || (ret = vdev_mem_add(v->mem, &r)) < 0)
        return fail(ret, "mapping guest memory");
    v->mem_size = bytes;
    ret = vdev_vfuc_dma_map(v->c, VFU_IOVA, bytes, v->memfd, 0, VDEV_VFUC_DMA_RW);
    return ret < 0 ? fail(ret, "DMA_MAP") : 0;
}

/* One eventfd per vector: 0 configuration changes, q + 1 queue q; MSI-X on with
 * those vectors unmasked. */
static int setup_irqs(struct vfu_transport *v)
{
    int fds[BENCH_MAX_QUEUES + 1];
    uint32_t table, vec, ctrl = htole32(0);
    int ret;

    if (v->msix_vectors < v->nq + 1)
        return fail(-ENOTSUP, "fewer MSI-X vectors than queues + 1");
    v->config_irq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (v->config_irq < 0)
        return fail(-errno, "eventfd");
    fds[0] = v->config_irq;
    for (unsigned i = 0; i < v->nq; i++) {
        v->q[i].irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (v->q[i].irq_fd < 0)
            return fail(-errno, "eventfd");
        fds[i + 1] = v->q[i].irq_fd;
    }
    ret = vdev_vfuc_set_irqs(v->c, VFIO_PCI_MSIX_IRQ_INDEX,
                             VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                             0, v->nq + 1, fds);
    if (ret < 0)
        return fail(ret, "SET_IRQS");
    if ((ret = cfg_read(v, v->msix_cap + PCI_MSIX_TABLE, 4, &table)) < 0 ||
        (ret = cfg_write(v, v->msix_cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE)) < 0)
        return fail(ret, "enabling MSI-X");
    if ((table & PCI_MSIX_TABLE_BIR) > 5)
        return fail(-EPROTO, "MSI-X table BAR");
    for (unsigned i = 0; i <= v->nq; i++) {
        ret = vdev_vfuc_region_write(v->c, table & PCI_MSIX_TABLE_BIR,
                                     (table & PCI_MSIX_TABLE_OFFSET) +
                                     i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL,
                                     &ctrl, 4, false);
        if (ret < 0)
            return fail(ret, "unmasking MSI-X vectors");
    }
    if ((ret = common_write(v, VIRTIO_PCI_COMMON_MSIX, 2, 0)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_MSIX, 2, &vec)) < 0)
        return fail(ret, "configuration vector");
    return vec == 0 ? 0 : fail(-ENOSPC, "the device refused vector 0 (4.1.5.1.2)");
}

/* Each queue's ioeventfd at its notify address, when the server gives them. */
static void find_ioeventfds(struct vfu_transport *v)
{
    struct vdev_vfuc_io_fd subs[BENCH_MAX_QUEUES];
    uint32_t count = 0;
    size_t nfds = MAX_IO_FDS;
    int ret;

    ret = vdev_vfuc_region_io_fds(v->c, v->notify.bar, subs, BENCH_MAX_QUEUES, &count,
                                  v->io_fds, &nfds);
    if (ret < 0) {
        fprintf(stderr, "vdev-bench: vfio-user: no ioeventfds (%s): doorbells go as "
                "posted REGION_WRITEs\n", vdev_strerror(ret));
        return;
    }
    v->n_io_fds = nfds;
    for (unsigned q = 0; q < v->nq; q++)
        for (uint32_t i = 0; i < count; i++)
            if (subs[i].type == 0 && subs[i].offset == v->q[q].notify_addr &&
                subs[i].size >= 2 && subs[i].flags == 0 && subs[i].fd_index < nfds)
                v->q[q].kick_fd = v->io_fds[subs[i].fd_index];
}

static int alloc_area(struct bench_transport *t, uint64_t size, uint64_t *gpa)
{
    void *host;

    return vf_alloc(t, size, 4096, gpa, &host);
}

/* 4.1.5.1.3: select, size, the three areas, the vector, enable. */
static int setup_queue(struct vfu_transport *v, uint16_t n, uint16_t size)
{
    const struct bench_options *o = v->o;
    bool packed = v->t.features & BIT(VIRTIO_F_RING_PACKED);
    struct vdev_vqd_config c = {
        .size = size, .packed = packed, .mem = v->mem, .kick_fd = -1,
        .event_idx = v->t.features & BIT(VIRTIO_RING_F_EVENT_IDX),
        .indirect = o->indirect, .indirect_max = o->indirect ? INDIRECT_MAX : 0,
    };
    uint32_t max, noff, vec;
    int ret;

    if ((ret = common_write(v, VIRTIO_PCI_COMMON_Q_SELECT, 2, n)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_Q_SIZE, 2, &max)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_Q_NOFF, 2, &noff)) < 0)
        return fail(ret, "reading a queue");
    if (size > max) {
        fprintf(stderr, "vdev-bench: queue %u: the device takes at most %u entries, "
                "not %u\n", n, max, size);
        return -EINVAL;
    }
    if ((ret = alloc_area(&v->t, vdev_vq_desc_bytes(size, packed), &c.desc_gpa)) < 0 ||
        (ret = alloc_area(&v->t, vdev_vq_driver_bytes(size, packed), &c.driver_gpa)) < 0 ||
        (ret = alloc_area(&v->t, vdev_vq_device_bytes(size, packed), &c.device_gpa)) < 0 ||
        (o->indirect && (ret = alloc_area(&v->t, (uint64_t)size * INDIRECT_MAX * 16,
                                          &c.indirect_gpa)) < 0))
        return fail(ret, "ring memory");
    if ((ret = vdev_vqd_new(&c, &v->q[n].drv)) < 0)
        return fail(ret, "driver ring");
    /* Linux writes each 64-bit address as two 32-bit halves, low first. */
    if ((ret = common_write(v, VIRTIO_PCI_COMMON_Q_SIZE, 2, size)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)c.desc_gpa)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_Q_DESCHI, 4, c.desc_gpa >> 32)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)c.driver_gpa)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, c.driver_gpa >> 32)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)c.device_gpa)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_Q_USEDHI, 4, c.device_gpa >> 32)) < 0 ||
        (ret = common_write(v, VIRTIO_PCI_COMMON_Q_MSIX, 2, n + 1u)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_Q_MSIX, 2, &vec)) < 0)
        return fail(ret, "setting a queue up");
    if (vec != n + 1u)
        return fail(-ENOSPC, "the device refused a queue's vector");
    ret = common_write(v, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    if (ret < 0)
        return fail(ret, "enabling a queue");
    /* 4.1.4.4: the queue's doorbell; the multiplier and offset come from the
     * device, so the address is checked against the notify structure. */
    if ((uint64_t)noff * v->notify_mult + 2 > v->notify.len)
        return fail(-EPROTO, "a queue's notify address is past the notify structure");
    v->q[n].notify_addr = v->notify.off + noff * v->notify_mult;
    if (o->poll)
        vdev_vqd_set_interrupts(v->q[n].drv, false);
    return 0;
}

static int vf_setup(struct bench_transport *t, uint64_t mem_bytes, uint16_t qsize,
                    unsigned nq)
{
    struct vfu_transport *v = vfu(t);
    uint32_t s;
    int ret;

    if (nq > BENCH_MAX_QUEUES || nq > (v->t.queue_num ? v->t.queue_num : 1))
        return fail(-EINVAL, "more queues than the device has");
    v->nq = nq;
    if ((ret = share_memory(v, mem_bytes)) < 0 || (ret = setup_irqs(v)) < 0)
        return ret;
    for (unsigned i = 0; i < nq; i++)
        if ((ret = setup_queue(v, (uint16_t)i, qsize)) < 0)
            return ret;
    find_ioeventfds(v);
    if ((ret = add_status(v, VIRTIO_CONFIG_S_DRIVER_OK)) < 0 ||
        (ret = common_read(v, VIRTIO_PCI_COMMON_STATUS, 1, &s)) < 0)
        return fail(ret, "DRIVER_OK");
    if (!(s & VIRTIO_CONFIG_S_DRIVER_OK) || (s & VIRTIO_CONFIG_S_NEEDS_RESET))
        return fail(-EIO, "the device did not take DRIVER_OK");
    return 0;
}

static int vf_submit(struct bench_transport *t, uint16_t q, const struct vdev_vqd_buf *out,
                     unsigned n_out, const struct vdev_vqd_buf *in, unsigned n_in,
                     bool indirect, uint16_t *id)
{
    struct vfu_transport *v = vfu(t);

    if (q >= v->nq)
        return -EINVAL;
    return vdev_vqd_add(v->q[q].drv, out, n_out, in, n_in, indirect, id);
}

/* 4.1.5.2: the driver notifies by writing the queue's index to its notify
 * address; an ioeventfd there takes the place of that write. */
static int vf_kick(struct bench_transport *t, uint16_t q)
{
    struct vfu_transport *v = vfu(t);
    uint64_t one = 1;
    uint16_t index = htole16(q);

    if (q >= v->nq)
        return -EINVAL;
    if (!vdev_vqd_kick_prepare(v->q[q].drv))
        return 0;
    if (v->q[q].kick_fd >= 0)
        return write(v->q[q].kick_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
    return vdev_vfuc_region_write(v->c, v->notify.bar, v->q[q].notify_addr, &index,
                                  sizeof(index), true);
}

static int vf_reap(struct bench_transport *t, uint16_t q, uint16_t *id, uint32_t *len)
{
    struct vfu_transport *v = vfu(t);

    return q < v->nq ? vdev_vqd_get_used(v->q[q].drv, id, len) : -EINVAL;
}

static int vf_wait(struct bench_transport *t, const bool *busy, unsigned nq, int ms)
{
    struct vfu_transport *v = vfu(t);
    struct pollfd p[BENCH_MAX_QUEUES];
    unsigned n = 0;
    uint64_t count;
    int ret;

    for (unsigned i = 0; i < nq && i < v->nq; i++) {
        if (!busy[i])
            continue;
        /* Re-armed before the poll: a completion from here on interrupts. */
        if (vdev_vqd_set_interrupts(v->q[i].drv, true))
            return 0;
        p[n].fd = v->q[i].irq_fd;
        p[n++].events = POLLIN;
    }
    ret = poll(p, n, ms);
    if (ret < 0)
        return errno == EINTR ? 0 : -errno;
    for (unsigned i = 0; i < n; i++)
        if (p[i].revents & POLLIN)
            (void)!read(p[i].fd, &count, sizeof(count));     /* drained */
    return 0;
}

static void vf_close(struct bench_transport *t)
{
    struct vfu_transport *v = vfu(t);

    /* Reset first, so the device stops using memory about to go. */
    if (v->c && vdev_vfuc_connected(v->c) && v->common.found)
        (void)common_write(v, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    vdev_vfuc_close(v->c);
    for (unsigned i = 0; i < BENCH_MAX_QUEUES; i++) {
        vdev_vqd_free(v->q[i].drv);
        if (v->q[i].irq_fd >= 0)
            close(v->q[i].irq_fd);
    }
    for (size_t i = 0; i < v->n_io_fds; i++)
        close(v->io_fds[i]);
    if (v->config_irq >= 0)
        close(v->config_irq);
    vdev_mem_free(v->mem);
    if (v->memfd >= 0)
        close(v->memfd);
    free(v);
}

static const struct bench_transport_ops vfu_ops = {
    .read_config = vf_read_config,
    .setup = vf_setup,
    .alloc = vf_alloc,
    .submit = vf_submit,
    .kick = vf_kick,
    .reap = vf_reap,
    .wait = vf_wait,
    .close = vf_close,
};

/* A server that is starting has no socket yet, or does not listen yet: retried
 * for up to o->connect_ms, as the vhost-user client does. */
static int connect_retry(struct vfu_transport *v)
{
    struct timespec pause = { 0, 10000000 };
    int waited = 0, ret;

    for (;;) {
        ret = vdev_vfuc_connect(v->o->socket, REQ_TIMEOUT_MS, &v->c);
        if ((ret != -ENOENT && ret != -ECONNREFUSED) || waited >= v->o->connect_ms)
            return ret;
        nanosleep(&pause, NULL);
        waited += 10;
    }
}

int bench_vfu_open(const struct bench_options *o, uint64_t want,
                   struct bench_transport **out)
{
    struct vfu_transport *v = calloc(1, sizeof(*v));
    int ret;

    if (!v)
        return -ENOMEM;
    v->t.ops = &vfu_ops;
    v->t.name = "vfio-user";
    v->o = o;
    v->memfd = v->config_irq = -1;
    for (unsigned i = 0; i < BENCH_MAX_QUEUES; i++)
        v->q[i].irq_fd = v->q[i].kick_fd = -1;
    ret = connect_retry(v);
    if (ret < 0) {
        fprintf(stderr, "vdev-bench: connect %s: %s\n", o->socket, vdev_strerror(ret));
        vf_close(&v->t);
        return ret;
    }
    ret = vdev_vfuc_negotiate(v->c, NULL, NULL);
    if (ret < 0)
        fail(ret, "VERSION");
    if (ret == 0)
        ret = probe(v);
    if (ret == 0)
        ret = negotiate_features(v, want);
    if (ret < 0) {
        vf_close(&v->t);
        return ret;
    }
    *out = &v->t;
    return 0;
}
