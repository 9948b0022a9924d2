/* test_vu_iotlb.c — VIRTIO_F_IOMMU_PLATFORM (vhost-user.rst, "IOMMU support"):
 * ring and buffer addresses are IOVAs that the front-end maps with IOTLB_MSG
 * UPDATE, far from the guest addresses behind them. Requests are served through
 * them (split and packed), a ring or buffer the IOTLB lacks is reported as a
 * MISS on the back-end channel and served after the UPDATE without breaking
 * the ring, an INVALIDATE takes access away (and cuts an entry in two), the
 * IOTLB survives a new memory table, and every malformed IOTLB_MSG gets an
 * error reply and a log line while the back-end goes on serving. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vdev/vhost_user_client.h"
#include "vdev/virtq.h"
#include "vdev/virtq_driver.h"
#include "vu_fixture.h"

#define BIT(n)     (1ull << (n))
#define PAGE       4096ull
#define RING_IOVA  0x100000000000ull      /* ring pages: IOVA = RING_IOVA + gpa */
#define BUF_IOVA   0x200000000000ull      /* buffers:    IOVA = BUF_IOVA + gpa */
#define PF_IOMMU   (VF_PF_DEFAULT | BIT(VU_PF_BACKEND_REQ))

static int chan = -1;                     /* our end of the back-end channel */

static int teardown(void **state)
{
    if (chan >= 0)
        close(chan);
    chan = -1;
    return vf_teardown(state);
}

/* Negotiates IOMMU_PLATFORM (with BACKEND_REQ and REPLY_ACK), opens the
 * back-end channel and sends the memory table. */
static void iommu_session(struct vf *f, uint64_t extra)
{
    int sv[2];

    vf_negotiate(f, BIT(VIRTIO_F_ACCESS_PLATFORM) | extra, PF_IOMMU);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(vf_req(f, VU_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1), 0);
    close(sv[1]);
    chan = sv[0];
    vf_mem_table(f);
}

/* One IOTLB_MSG; returns the back-end's u64 (0: success). */
static uint64_t iotlb_msg(struct vf *f, uint8_t type, uint64_t iova, uint64_t size,
                          uint64_t uaddr, uint8_t perm)
{
    struct vhost_iotlb_msg m = {
        .iova = iova, .size = size, .uaddr = uaddr, .perm = perm, .type = type,
    };
    uint64_t st = 0;

    vf_send(f, VU_IOTLB_MSG, 0, &m, sizeof(m), NULL, 0);
    assert_int_equal(vf_recv(f, VU_IOTLB_MSG, &st, sizeof(st), NULL), (int)sizeof(st));
    return st;
}

static uint64_t map(struct vf *f, uint64_t iova, uint64_t gpa, uint64_t size,
                    uint8_t perm)
{
    return iotlb_msg(f, VHOST_IOTLB_UPDATE, iova, size, vf_uva(gpa), perm);
}

static uint64_t unmap(struct vf *f, uint64_t iova, uint64_t size)
{
    return iotlb_msg(f, VHOST_IOTLB_INVALIDATE, iova, size, 0, 0);
}

/* Ring i as vf_ring_setup() makes it, then its addresses again as IOVAs (the
 * ring waits for its first kick: nothing is translated yet). */
static void iommu_ring(struct vf *f, unsigned i, uint16_t size)
{
    struct vf_ring *r = &f->ring[i];
    struct vhost_vring_addr a;

    vf_ring_setup(f, i, size);
    a = (struct vhost_vring_addr){
        .index = i, .desc_user_addr = RING_IOVA + r->desc,
        .avail_user_addr = RING_IOVA + r->driver, .used_user_addr = RING_IOVA + r->device,
    };
    assert_int_equal(vf_req(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
}

/* Maps ring i's three areas (one entry) and the buffer area (another). */
static void map_ring_and_buffers(struct vf *f, unsigned i)
{
    uint64_t base = f->ring[i].desc;

    assert_int_equal(map(f, RING_IOVA + base, base, 0x30000, VHOST_ACCESS_RW), 0);
    assert_int_equal(map(f, BUF_IOVA + VF_BUF_GPA, VF_BUF_GPA, 0x100000,
                         VHOST_ACCESS_RW), 0);
}

/* A request {msg} -> {256 bytes} in buffer slot (2 pages each: out, in) whose
 * descriptors carry IOVAs. */
static uint16_t submit_slot(struct vf *f, unsigned i, unsigned slot, const char *msg)
{
    uint64_t o = VF_BUF_GPA + 2 * PAGE * slot;
    struct vdev_vqd_buf out = { .gpa = BUF_IOVA + o, .len = (uint32_t)strlen(msg) };
    struct vdev_vqd_buf in = { .gpa = BUF_IOVA + o + PAGE, .len = 256 };
    uint16_t id;

    memcpy(vf_host(f, o), msg, out.len);
    memset(vf_host(f, o + PAGE), 0xee, in.len);
    assert_int_equal(vdev_vqd_add(f->ring[i].drv, &out, 1, &in, 1, false, &id), 0);
    vdev_vqd_kick_prepare(f->ring[i].drv);
    return id;
}

/* The next back-end request: an IOTLB MISS, without NEED_REPLY. false when
 * none comes in ms. */
static bool next_miss(int ms, uint64_t *iova, uint8_t *perm)
{
    struct pollfd p = { .fd = chan, .events = POLLIN };
    struct {
        struct vu_header h;
        struct vhost_iotlb_msg m;
    } __attribute__((packed)) w;

    if (poll(&p, 1, ms) != 1)
        return false;
    assert_int_equal(recv(chan, &w, sizeof(w), MSG_WAITALL), (ssize_t)sizeof(w));
    assert_int_equal(w.h.request, VU_BACKEND_IOTLB_MSG);
    assert_int_equal(w.h.flags, VU_VERSION);
    assert_int_equal(w.h.size, sizeof(w.m));
    assert_int_equal(w.m.type, VHOST_IOTLB_MISS);
    *iova = w.m.iova;
    *perm = w.m.perm;
    return true;
}

/* The ring was never broken: no error signalled, no NEEDS_RESET. */
static void assert_ring_healthy(struct vf *f, unsigned i)
{
    struct pollfd p = { .fd = f->ring[i].err, .events = POLLIN };

    assert_int_equal(poll(&p, 1, 0), 0);
    assert_false(vf_get_u64(f, VU_GET_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* --- served through IOVAs ------------------------------------------------------ */

static void serve_through_iovas(struct vf *f, uint64_t extra)
{
    uint64_t iova;
    uint8_t perm;
    uint16_t id;

    iommu_session(f, extra);
    iommu_ring(f, 0, 256);
    map_ring_and_buffers(f, 0);
    for (unsigned k = 0; k < 3; k++) {
        id = submit_slot(f, 0, k, "through the IOMMU");
        vf_kick(f, 0);
        assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
        vf_check_echo(f, 0, id, "through the IOMMU");
    }
    assert_false(next_miss(0, &iova, &perm));     /* all of it was in the IOTLB */
    assert_ring_healthy(f, 0);
}

/* A split ring whose rings and buffers are IOVAs far from their guest
 * addresses serves requests: they are translated through the IOTLB. */
static void test_split_served_through_iovas(void **state)
{
    serve_through_iovas(*state, 0);
}

static void test_packed_served_through_iovas(void **state)
{
    serve_through_iovas(*state, BIT(VIRTIO_F_RING_PACKED));
}

/* --- misses --------------------------------------------------------------------- */

struct miss {
    uint64_t iova;
    uint8_t perm;
};

/* Answers each MISS with an UPDATE of just its page, with just the access it
 * asks for, until ring 0's call comes; returns the misses seen. */
static unsigned serve_misses(struct vf *f, struct miss *seen, unsigned max)
{
    unsigned n = 0;

    for (;;) {
        struct pollfd p[2] = { { .fd = chan, .events = POLLIN },
                               { .fd = f->ring[0].call, .events = POLLIN } };
        uint64_t page, off, v;

        assert_true(poll(p, 2, VF_TIMEOUT) > 0);
        if (p[1].revents & POLLIN) {
            assert_int_equal(read(f->ring[0].call, &v, sizeof(v)), (ssize_t)sizeof(v));
            return n;
        }
        assert_true(n < max);
        assert_true(next_miss(0, &seen[n].iova, &seen[n].perm));
        page = seen[n].iova & ~(PAGE - 1);
        off = page >= BUF_IOVA ? BUF_IOVA : RING_IOVA;
        assert_int_equal(map(f, page, page - off, PAGE, seen[n].perm), 0);
        n++;
    }
}

/* Appends the page-by-page misses an area of len bytes at iova gives. */
static unsigned want_area(struct miss *w, unsigned n, uint64_t iova, uint64_t len,
                          uint8_t perm)
{
    for (uint64_t p = iova & ~(PAGE - 1); p < iova + len; p += PAGE)
        w[n++] = (struct miss){ p == (iova & ~(PAGE - 1)) ? iova : p, perm };
    return n;
}

/* Nothing is in the IOTLB when the request comes: each ring area (a 16 KiB
 * descriptor table or ring, the driver area, the device area, 8 KiB of used
 * ring when split) and then each buffer is reported as a MISS for its first
 * missing page, with the access the device needs, and the request is served
 * once the last UPDATE came; the pages of one area, mapped one by one, serve as
 * one piece. The ring is never broken. */
static void miss_then_served(struct vf *f, bool packed)
{
    struct vf_ring *r = &f->ring[0];
    struct miss seen[16], want[16];
    uint16_t id;
    unsigned n, nw = 0;

    iommu_session(f, packed ? BIT(VIRTIO_F_RING_PACKED) : 0);
    iommu_ring(f, 0, 1024);
    id = submit_slot(f, 0, 0, "after the misses");
    vf_kick(f, 0);
    n = serve_misses(f, seen, 16);
    vf_check_echo(f, 0, id, "after the misses");

    nw = want_area(want, nw, RING_IOVA + r->desc, vdev_vq_desc_bytes(1024, packed),
                   packed ? VHOST_ACCESS_RW : VHOST_ACCESS_RO);
    nw = want_area(want, nw, RING_IOVA + r->driver, vdev_vq_driver_bytes(1024, packed),
                   VHOST_ACCESS_RO);
    nw = want_area(want, nw, RING_IOVA + r->device, vdev_vq_device_bytes(1024, packed),
                   VHOST_ACCESS_WO);
    want[nw++] = (struct miss){ BUF_IOVA + VF_BUF_GPA, VHOST_ACCESS_RO };
    want[nw++] = (struct miss){ BUF_IOVA + VF_BUF_GPA + PAGE, VHOST_ACCESS_WO };
    assert_int_equal(n, nw);
    assert_int_equal(nw, packed ? 4 + 1 + 1 + 2 : 4 + 1 + 3 + 2);
    for (unsigned k = 0; k < n; k++) {
        assert_int_equal(seen[k].iova, want[k].iova);
        assert_int_equal(seen[k].perm, want[k].perm);
    }
    assert_ring_healthy(f, 0);

    /* The next request finds everything mapped: no miss. */
    id = submit_slot(f, 0, 0, "no miss now");
    vf_kick(f, 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "no miss now");
    assert_false(next_miss(0, &seen[0].iova, &seen[0].perm));
}

static void test_split_miss_reported_then_served(void **state)
{
    miss_then_served(*state, false);
}

static void test_packed_miss_reported_then_served(void **state)
{
    miss_then_served(*state, true);
}

/* An indirect table the IOTLB lacks is a miss too (the descriptor that names
 * it is in the mapped ring): the request is served once the table's page is
 * mapped, its buffers through their own IOVAs. */
static void test_indirect_table_miss(void **state)
{
    struct vf *f = *state;
    struct vf_ring *r = &f->ring[0];
    uint64_t out = VF_BUF_GPA, in = VF_BUF_GPA + PAGE, table = VF_BUF_GPA + 0x80000;
    struct vring_desc *t = vf_host(f, table), *d;
    struct vring_avail *av;
    struct vring_used *used;
    uint64_t iova;
    uint8_t perm;

    iommu_session(f, BIT(VIRTIO_RING_F_INDIRECT_DESC));
    iommu_ring(f, 0, 256);
    assert_int_equal(map(f, RING_IOVA + r->desc, r->desc, 0x30000, VHOST_ACCESS_RW), 0);
    assert_int_equal(map(f, BUF_IOVA + out, out, 2 * PAGE, VHOST_ACCESS_RW), 0);

    memcpy(vf_host(f, out), "indirect", 8);
    t[0] = (struct vring_desc){ .addr = htole64(BUF_IOVA + out), .len = htole32(8),
                                .flags = htole16(VRING_DESC_F_NEXT), .next = htole16(1) };
    t[1] = (struct vring_desc){ .addr = htole64(BUF_IOVA + in), .len = htole32(256),
                                .flags = htole16(VRING_DESC_F_WRITE) };
    d = vf_host(f, r->desc);
    d[0] = (struct vring_desc){ .addr = htole64(BUF_IOVA + table),
                                .len = htole32(2 * sizeof(*t)),
                                .flags = htole16(VRING_DESC_F_INDIRECT) };
    av = vf_host(f, r->driver);
    av->ring[0] = 0;
    __atomic_store_n(&av->idx, htole16(1), __ATOMIC_RELEASE);
    vf_kick(f, 0);

    assert_true(next_miss(VF_TIMEOUT, &iova, &perm));
    assert_int_equal(iova, BUF_IOVA + table);
    assert_int_equal(perm, VHOST_ACCESS_RO);
    assert_int_equal(map(f, BUF_IOVA + table, table, PAGE, VHOST_ACCESS_RO), 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    used = vf_host(f, r->device);
    assert_int_equal(le16toh(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE)), 1);
    assert_int_equal(le32toh(used->ring[0].id), 0);
    assert_int_equal(le32toh(used->ring[0].len), 8 + 8);
    assert_memory_equal((uint8_t *)vf_host(f, in) + 8, "indirect", 8);
    assert_ring_healthy(f, 0);
}

/* The permissions of an entry hold: a buffer the device must write, mapped
 * read-only, is the driver's error (as in the kernel's vhost), not a miss: the
 * ring breaks, its error fd is signalled, and no MISS is sent. */
static void test_write_through_read_only_entry_breaks_ring(void **state)
{
    struct vf *f = *state;
    struct pollfd p;
    uint64_t iova, base = VF_BUF_GPA;
    uint8_t perm;

    iommu_session(f, 0);
    iommu_ring(f, 0, 256);
    assert_int_equal(map(f, RING_IOVA + f->ring[0].desc, f->ring[0].desc, 0x30000,
                         VHOST_ACCESS_RW), 0);
    assert_int_equal(map(f, BUF_IOVA + base, base, 2 * PAGE, VHOST_ACCESS_RO), 0);
    vf_log_clear();
    submit_slot(f, 0, 0, "write me");
    vf_kick(f, 0);
    assert_true(vf_log_wait("ring broken by the driver", VF_TIMEOUT));
    vf_get_vring_base(f, 0);
    p = (struct pollfd){ .fd = f->ring[0].err, .events = POLLIN };
    assert_int_equal(poll(&p, 1, VF_TIMEOUT), 1);
    assert_true(vf_get_u64(f, VU_GET_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert_false(next_miss(0, &iova, &perm));
}

/* --- invalidation ----------------------------------------------------------------- */

/* An INVALIDATE in the middle of an entry takes access away there: the next
 * request on that buffer waits on a MISS and is not served; the entry's other
 * pages still serve (ring 1 meanwhile), and after the UPDATE the waiting
 * request is served. */
static void test_invalidate_stops_access(void **state)
{
    struct vf *f = *state;
    uint64_t iova, slot1 = VF_BUF_GPA + 2 * PAGE;
    uint8_t perm;
    uint16_t id;

    iommu_session(f, 0);
    iommu_ring(f, 0, 256);
    iommu_ring(f, 1, 256);
    map_ring_and_buffers(f, 0);
    assert_int_equal(map(f, RING_IOVA + f->ring[1].desc, f->ring[1].desc, 0x30000,
                         VHOST_ACCESS_RW), 0);
    id = submit_slot(f, 0, 0, "before");
    vf_kick(f, 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "before");

    assert_int_equal(unmap(f, BUF_IOVA + slot1, 2 * PAGE), 0);
    id = submit_slot(f, 0, 1, "cut off");
    vf_kick(f, 0);
    assert_true(next_miss(VF_TIMEOUT, &iova, &perm));
    assert_int_equal(iova, BUF_IOVA + slot1);
    assert_int_equal(perm, VHOST_ACCESS_RO);
    assert_int_equal(vdev_vqd_get_used(f->ring[0].drv, &(uint16_t){ 0 },
                                       &(uint32_t){ 0 }), 0);

    /* Slots 0 and 2, either side of the cut, still serve. */
    for (unsigned slot = 0; slot <= 2; slot += 2) {
        uint16_t id1 = submit_slot(f, 1, slot, "beside the cut");

        vf_kick(f, 1);
        assert_true(vf_wait_call(f, 1, VF_TIMEOUT));
        vf_check_echo(f, 1, id1, "beside the cut");
    }

    assert_int_equal(map(f, BUF_IOVA + slot1, slot1, 2 * PAGE, VHOST_ACCESS_RW), 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "cut off");
    assert_ring_healthy(f, 0);
}

/* --- the memory table changes ------------------------------------------------------- */

/* A new memory table (the same memory) keeps the IOTLB: requests are served
 * with no miss. A region removed takes its entries with it: the next request
 * misses. */
static void test_iotlb_follows_memory_table(void **state)
{
    struct vf *f = *state;
    struct vu_mem_reg reg = {
        .region = { .guest_addr = 0, .size = VF_MEM_SIZE, .user_addr = VF_UVA_BASE },
    };
    uint64_t iova;
    uint8_t perm;
    uint16_t id;

    iommu_session(f, 0);
    iommu_ring(f, 0, 256);
    map_ring_and_buffers(f, 0);
    vf_mem_table(f);
    id = submit_slot(f, 0, 0, "new table");
    vf_kick(f, 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "new table");
    assert_false(next_miss(0, &iova, &perm));

    assert_int_equal(vf_req(f, VU_REM_MEM_REG, &reg, sizeof(reg), NULL, 0), 0);
    assert_true(vf_log_wait("IOTLB entries dropped", VF_TIMEOUT));
    vf_mem_table(f);
    id = submit_slot(f, 0, 0, "refill");
    vf_kick(f, 0);
    assert_true(next_miss(VF_TIMEOUT, &iova, &perm));
    assert_int_equal(iova, RING_IOVA + f->ring[0].desc);
    map_ring_and_buffers(f, 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "refill");
}

/* --- the dirty log ------------------------------------------------------------------- */

static bool page_dirty(const uint8_t *log, uint64_t gpa)
{
    uint64_t page = gpa / PAGE;

    return log[page / 8] & (1u << (page % 8));
}

/* With LOG_ALL, what the device writes through IOVAs is logged at the guest
 * physical pages behind them: the in buffer, and the used ring at its
 * log_guest_addr, which under a vIOMMU is an IOVA too. Nothing is logged at
 * the IOVAs (the log covers only the 4 MiB of guest memory) and the page only
 * read is not logged. */
static void test_dirty_log_through_iotlb(void **state)
{
    struct vf *f = *state;
    struct vf_ring *r = &f->ring[0];
    uint64_t feat = BIT(VIRTIO_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES) |
                    BIT(VIRTIO_F_ACCESS_PLATFORM) | BIT(VHOST_F_LOG_ALL);
    struct vu_log l = { .size = 128, .offset = 0 };
    struct vhost_vring_addr a;
    int fd = vf_sealed_memfd("vu-log", PAGE);
    uint8_t *log = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    uint64_t st = ~0ull, slot = VF_BUF_GPA;
    uint16_t id;

    assert_true(log != MAP_FAILED);
    iommu_session(f, 0);
    iommu_ring(f, 0, 256);
    map_ring_and_buffers(f, 0);
    vf_send(f, VU_SET_LOG_BASE, 0, &l, sizeof(l), &fd, 1);
    assert_int_equal(vf_recv(f, VU_SET_LOG_BASE, &st, sizeof(st), NULL), 8);
    assert_int_equal(st, 0);
    a = (struct vhost_vring_addr){
        .index = 0, .flags = 1u << VHOST_VRING_F_LOG,
        .desc_user_addr = RING_IOVA + r->desc, .avail_user_addr = RING_IOVA + r->driver,
        .used_user_addr = RING_IOVA + r->device, .log_guest_addr = RING_IOVA + r->device,
    };
    assert_int_equal(vf_req(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
    assert_int_equal(vf_req_u64(f, VU_SET_FEATURES, feat), 0);

    id = submit_slot(f, 0, 0, "logged");
    vf_kick(f, 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "logged");
    assert_true(page_dirty(log, slot + PAGE));         /* the in buffer */
    assert_false(page_dirty(log, slot));               /* the out buffer: read */
    assert_true(page_dirty(log, r->device));           /* the used ring */
    munmap(log, PAGE);
    close(fd);
}

/* RESET_DEVICE empties the IOTLB: after it, with IOMMU_PLATFORM negotiated
 * again, the ring misses on what was mapped before. */
static void test_reset_device_empties_iotlb(void **state)
{
    struct vf *f = *state;
    uint64_t iova, feat = BIT(VIRTIO_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES) |
                          BIT(VIRTIO_F_ACCESS_PLATFORM);
    uint8_t perm;
    uint16_t id;

    iommu_session(f, 0);
    iommu_ring(f, 0, 256);
    map_ring_and_buffers(f, 0);
    id = submit_slot(f, 0, 0, "before the reset");
    vf_kick(f, 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "before the reset");

    assert_int_equal(vf_req(f, VU_RESET_DEVICE, NULL, 0, NULL, 0), 0);
    assert_int_equal(vf_req_u64(f, VU_SET_FEATURES, feat), 0);
    iommu_ring(f, 0, 256);
    id = submit_slot(f, 0, 0, "after the reset");
    vf_kick(f, 0);
    assert_true(next_miss(VF_TIMEOUT, &iova, &perm));
    assert_int_equal(iova, RING_IOVA + f->ring[0].desc);
    map_ring_and_buffers(f, 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "after the reset");
}

/* --- hostile front-ends ---------------------------------------------------------------- */

/* Refused with an error reply and the line that says why. */
static void refused(uint64_t status, const char *why)
{
    assert_int_not_equal(status, 0);
    assert_true(vf_log_wait(why, 0));
    vf_log_clear();
}

/* IOMMU_PLATFORM needs BACKEND_REQ and REPLY_ACK; IOTLB_MSG needs IOMMU_PLATFORM. */
static void test_iotlb_needs_its_features(void **state)
{
    struct vf *f = *state;
    uint64_t feat = BIT(VIRTIO_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES) |
                    BIT(VIRTIO_F_ACCESS_PLATFORM);

    vf_log_clear();
    assert_true(vf_get_u64(f, VU_GET_FEATURES) & BIT(VIRTIO_F_ACCESS_PLATFORM));
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    refused(vf_req_u64(f, VU_SET_FEATURES, feat), "IOMMU_PLATFORM without");
    vf_mem_table(f);
    refused(map(f, BUF_IOVA, 0, PAGE, VHOST_ACCESS_RW),
            "IOTLB_MSG without VIRTIO_F_IOMMU_PLATFORM");
}

/* Every malformed IOTLB_MSG: an error reply and a log line, nothing mapped,
 * and the back-end serves through the IOTLB afterwards. */
static void test_iotlb_hostile_messages(void **state)
{
    struct vf *f = *state;
    uint64_t end = VF_UVA_BASE + VF_MEM_SIZE, st = 0;
    struct vhost_iotlb_msg m = { .iova = BUF_IOVA, .size = PAGE, .uaddr = VF_UVA_BASE,
                                 .perm = VHOST_ACCESS_RW, .type = VHOST_IOTLB_UPDATE };
    uint8_t bad_perm[] = { 0, 4, 0xff };
    uint8_t bad_type[] = { 0, VHOST_IOTLB_MISS, VHOST_IOTLB_ACCESS_FAIL, 99 };
    uint64_t iova;
    uint8_t perm;
    uint16_t id;

    iommu_session(f, 0);
    vf_log_clear();
    refused(iotlb_msg(f, VHOST_IOTLB_UPDATE, BUF_IOVA, 0, VF_UVA_BASE, VHOST_ACCESS_RW),
            "IOTLB UPDATE of size 0");
    refused(iotlb_msg(f, VHOST_IOTLB_INVALIDATE, BUF_IOVA, 0, 0, 0),
            "IOTLB INVALIDATE of size 0");
    refused(iotlb_msg(f, VHOST_IOTLB_UPDATE, UINT64_MAX - PAGE + 1, 2 * PAGE,
                      VF_UVA_BASE, VHOST_ACCESS_RW), "wraps");
    refused(iotlb_msg(f, VHOST_IOTLB_UPDATE, BUF_IOVA, 2 * PAGE, UINT64_MAX - PAGE + 1,
                      VHOST_ACCESS_RW), "wraps");
    refused(iotlb_msg(f, VHOST_IOTLB_INVALIDATE, UINT64_MAX - PAGE + 1, 2 * PAGE, 0, 0),
            "IOTLB INVALIDATE iova");
    for (unsigned k = 0; k < sizeof(bad_perm); k++)
        refused(iotlb_msg(f, VHOST_IOTLB_UPDATE, BUF_IOVA, PAGE, VF_UVA_BASE,
                          bad_perm[k]), "not RO, WO, RW");
    for (unsigned k = 0; k < sizeof(bad_type); k++)
        refused(iotlb_msg(f, bad_type[k], BUF_IOVA, PAGE, VF_UVA_BASE, VHOST_ACCESS_RW),
                "IOTLB_MSG of type");
    /* User addresses outside the memory table: before it, across its end. */
    refused(iotlb_msg(f, VHOST_IOTLB_UPDATE, BUF_IOVA, PAGE, VF_UVA_BASE - PAGE,
                      VHOST_ACCESS_RW), "not in the memory table");
    refused(iotlb_msg(f, VHOST_IOTLB_UPDATE, BUF_IOVA, 2 * PAGE, end - PAGE,
                      VHOST_ACCESS_RW), "not in the memory table");
    /* A short payload, and a payload with an fd. */
    vf_send(f, VU_IOTLB_MSG, 0, &m, 16, NULL, 0);
    assert_int_equal(vf_recv(f, VU_IOTLB_MSG, &st, sizeof(st), NULL), (int)sizeof(st));
    refused(st, "IOTLB_MSG payload of 16 bytes");
    vf_send(f, VU_IOTLB_MSG, 0, &m, sizeof(m), &f->memfd, 1);
    assert_int_equal(vf_recv(f, VU_IOTLB_MSG, &st, sizeof(st), NULL), (int)sizeof(st));
    refused(st, "IOTLB_MSG takes no fd");

    /* Overlaps: refused unless an exact repeat. */
    assert_int_equal(map(f, BUF_IOVA + VF_BUF_GPA, VF_BUF_GPA, 4 * PAGE,
                         VHOST_ACCESS_RW), 0);
    assert_int_equal(map(f, BUF_IOVA + VF_BUF_GPA, VF_BUF_GPA, 4 * PAGE,
                         VHOST_ACCESS_RW), 0);
    refused(map(f, BUF_IOVA + VF_BUF_GPA + PAGE, 0x200000, 4 * PAGE, VHOST_ACCESS_RW),
            "overlaps an entry");
    refused(map(f, BUF_IOVA + VF_BUF_GPA, VF_BUF_GPA, 4 * PAGE, VHOST_ACCESS_RO),
            "overlaps an entry");
    /* A part of an entry, repeated exactly, is a repeat too. */
    assert_int_equal(map(f, BUF_IOVA + VF_BUF_GPA + PAGE, VF_BUF_GPA + PAGE, PAGE,
                         VHOST_ACCESS_RW), 0);
    /* Invalidating what is not mapped is no error. */
    assert_int_equal(unmap(f, 0x1000, PAGE), 0);

    /* Nothing the refused messages named was mapped: the ring misses on its
     * descriptors first, then serves once mapped. */
    iommu_ring(f, 0, 256);
    id = submit_slot(f, 0, 0, "still serving");
    vf_kick(f, 0);
    assert_true(next_miss(VF_TIMEOUT, &iova, &perm));
    assert_int_equal(iova, RING_IOVA + f->ring[0].desc);
    assert_int_equal(map(f, RING_IOVA + f->ring[0].desc, f->ring[0].desc, 0x30000,
                         VHOST_ACCESS_RW), 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "still serving");
    assert_ring_healthy(f, 0);
}

/* --- vdev's own front-end -------------------------------------------------------------- */

struct client_misses {
    unsigned n;
    struct vhost_iotlb_msg last;
};

static int note_miss(void *opaque, const struct vdev_vuc_backend_req *req)
{
    struct client_misses *cm = opaque;

    if (req->request != VDEV_VUC_BACKEND_IOTLB_MSG)
        return -EINVAL;
    cm->n++;
    cm->last = req->payload.iotlb;
    return 0;
}

/* The client library (vhost_user_client.h) drives the IOTLB: it leaves
 * IOMMU_PLATFORM out of vdev_vuc_negotiate(), sends IOTLB_MSG only with the
 * feature acked, sees the back-end's MISS in its handler and answers it with
 * vdev_vuc_iotlb_update(); its queue, whose addresses are now IOVAs (identity:
 * the ring at its user addresses, the buffers at their guest addresses), then
 * serves. A refused UPDATE is -EREMOTEIO. */
static void test_client_answers_misses(void **state)
{
    struct vf *f = *state;
    struct vdev_vuc *c;
    struct client_misses cm = { 0 };
    struct vdev_vqd_buf out, in;
    uint64_t gpa, feat;
    uint16_t id, got;
    uint32_t len;
    int kick, call;

    close(f->sock);                    /* the back-end serves one front-end */
    f->sock = -1;
    assert_int_equal(vdev_vuc_connect(f->path, VF_TIMEOUT, &c), 0);
    vdev_vuc_set_timeout(c, VF_TIMEOUT);
    assert_int_equal(vdev_vuc_negotiate(c, ~0ull & ~BIT(VHOST_F_LOG_ALL) &
                                           ~BIT(VIRTIO_F_RING_PACKED),
                                        VDEV_VUC_PF_SUPPORTED), 0);
    feat = vdev_vuc_features(c);
    assert_false(feat & BIT(VIRTIO_F_ACCESS_PLATFORM));
    assert_int_equal(vdev_vuc_iotlb_update(c, 0, PAGE, 0, VHOST_ACCESS_RW), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_features(c, feat | BIT(VIRTIO_F_ACCESS_PLATFORM)), 0);
    vdev_vuc_set_backend_handler(c, note_miss, &cm);
    assert_int_equal(vdev_vuc_mem_add(c, 4 << 20, NULL), 0);
    assert_int_equal(vdev_vuc_iotlb_update(c, BUF_IOVA, 0, 0, VHOST_ACCESS_RW),
                     -EREMOTEIO);

    assert_int_equal(vdev_vuc_queue_setup(c, 0, 64, 0), 0);
    assert_int_equal(vdev_vuc_queue_fds(c, 0, &kick, &call), 0);
    assert_int_equal(vdev_vuc_alloc(c, 2 * PAGE, PAGE, &gpa), 0);
    memcpy(vdev_vuc_host(c, gpa, PAGE), "client", 6);
    out = (struct vdev_vqd_buf){ .gpa = gpa, .len = 6 };
    in = (struct vdev_vqd_buf){ .gpa = gpa + PAGE, .len = 64 };
    assert_int_equal(vdev_vuc_submit(c, 0, &out, 1, &in, 1, false, &id), 0);
    assert_true(vdev_vuc_kick(c, 0) >= 0);

    for (unsigned rounds = 0;; rounds++) {
        struct pollfd p[2] = { { .fd = vdev_vuc_backend_fd(c), .events = POLLIN },
                               { .fd = call, .events = POLLIN } };
        uint64_t page, v;
        uint8_t *host;

        assert_true(rounds < 16);
        assert_true(poll(p, 2, VF_TIMEOUT) > 0);
        if (p[1].revents & POLLIN) {
            assert_int_equal(read(call, &v, sizeof(v)), (ssize_t)sizeof(v));
            break;
        }
        assert_int_equal(vdev_vuc_backend_process(c, 0), 1);
        assert_int_equal(cm.last.type, VHOST_IOTLB_MISS);
        /* Identity IOVAs: a ring page is at its user address, a buffer page at
         * its guest address; read-write, as a guest's IOMMU maps them (the
         * rings share a page). */
        page = cm.last.iova & ~(PAGE - 1);
        host = page < (4 << 20) ? vdev_vuc_host(c, page, PAGE) : (uint8_t *)page;
        assert_int_equal(vdev_vuc_iotlb_update(c, page, PAGE, (uint64_t)(uintptr_t)host,
                                               VHOST_ACCESS_RW), 0);
    }
    assert_true(cm.n >= 3);            /* the rings (one page or more), two buffers */
    assert_int_equal(vdev_vuc_reap(c, 0, &got, &len), 1);
    assert_int_equal(got, id);
    assert_int_equal(len, 8 + 6);
    assert_memory_equal((uint8_t *)vdev_vuc_host(c, gpa + PAGE, PAGE) + 8, "client", 6);
    assert_int_equal(vdev_vuc_iotlb_invalidate(c, 0, UINT64_MAX), 0);
    vdev_vuc_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_split_served_through_iovas, vf_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_packed_served_through_iovas, vf_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_split_miss_reported_then_served, vf_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_packed_miss_reported_then_served, vf_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_indirect_table_miss, vf_setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_through_read_only_entry_breaks_ring,
                                        vf_setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidate_stops_access, vf_setup, teardown),
        cmocka_unit_test_setup_teardown(test_iotlb_follows_memory_table, vf_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dirty_log_through_iotlb, vf_setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_device_empties_iotlb, vf_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_iotlb_needs_its_features, vf_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_iotlb_hostile_messages, vf_setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_answers_misses, vf_setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
