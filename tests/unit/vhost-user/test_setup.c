/* The convenience layer against the scripted back-end: the negotiation's
 * messages and what it picks, sharing a sealed memfd (the back-end maps the fd
 * it got and sees what the client wrote), the allocator, a queue's set-up
 * sequence and then its data path with the test playing the device on what the
 * back-end was sent, stop, the inflight area, and reconnect's replay. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vdev/mem.h"
#include "vdev/vhost_user_client.h"
#include "vdev/virtq.h"
#include "vdev/virtq_driver.h"
#include "fake_backend.h"

#define MIB (1024 * 1024ull)
#define PAGE 4096ull

#define VQ_FEATURES (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
                     BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(F_PROTOCOL_FEATURES))

/* ---- negotiation ---- */

/* Features and protocol features are what both sides want; bit 30 is acked when
 * offered; unsupported protocol features and INBAND_NOTIFICATIONS without
 * BACKEND_REQ are left out; SET_OWNER comes first; MQ asks for the queue number. */
static void test_negotiate_intersection(void **state)
{
    struct fb_test *t = *state;
    uint64_t offered = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
                       BIT(F_PROTOCOL_FEATURES) | BIT(40);
    uint64_t want = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
                    BIT(VIRTIO_RING_F_EVENT_IDX);
    struct offer o = {
        .features = offered,
        .pf = BIT(PF_MQ) | BIT(PF_CONFIG) | BIT(PF_XEN_MMAP) | BIT(PF_PAGEFAULT) |
              BIT(PF_INBAND_NOTIFICATIONS) | BIT(PF_REPLY_ACK),
        .expect_pf = BIT(PF_MQ) | BIT(PF_CONFIG) | BIT(PF_REPLY_ACK),
        .queue_num = 2,
    };
    uint64_t expect_f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
                        BIT(F_PROTOCOL_FEATURES);
    uint8_t p[8];

    script_negotiate(t->fb, &o);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, want, ~0ull), 0);
    assert_true(vdev_vuc_features(t->c) == expect_f);
    assert_true(vdev_vuc_protocol_features(t->c) == o.expect_pf);
    assert_true(vdev_vuc_queue_num(t->c) == 2);
    assert_int_equal(vdev_vuc_negotiate(t->c, want, 0), -EBUSY);
    fb_test_finish(t);

    fb_check(t->fb, 0, R_SET_OWNER, FB_V1, NULL, 0, 0);
    fb_check(t->fb, 1, R_GET_FEATURES, FB_V1, NULL, 0, 0);
    fb_check(t->fb, 2, R_GET_PROTOCOL_FEATURES, FB_V1, NULL, 0, 0);
    put64(p, 0, o.expect_pf);
    fb_check(t->fb, 3, R_SET_PROTOCOL_FEATURES, FB_V1, p, 8, 0);
    put64(p, 0, expect_f);
    fb_check(t->fb, 4, R_SET_FEATURES, FB_V1 | FB_NEED_REPLY, p, 8, 0);
    fb_check(t->fb, 5, R_GET_QUEUE_NUM, FB_V1, NULL, 0, 0);
    assert_int_equal(t->fb->nmsgs, 6);
}

/* A back-end without bit 30: no protocol features, SET_FEATURES without it. */
static void test_negotiate_legacy(void **state)
{
    struct fb_test *t = *state;
    struct offer o = { .features = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) };
    uint8_t p[8];

    script_negotiate(t->fb, &o);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, BIT(VIRTIO_F_VERSION_1) |
                                              BIT(F_PROTOCOL_FEATURES), ~0ull), 0);
    fb_test_finish(t);
    fb_check(t->fb, 0, R_SET_OWNER, FB_V1, NULL, 0, 0);
    fb_check(t->fb, 1, R_GET_FEATURES, FB_V1, NULL, 0, 0);
    put64(p, 0, BIT(VIRTIO_F_VERSION_1));
    fb_check(t->fb, 2, R_SET_FEATURES, FB_V1, p, 8, 0);
    assert_int_equal(t->fb->nmsgs, 3);
}

/* BACKEND_REQ: the channel's far end goes with SET_BACKEND_REQ_FD (acked), and
 * the client keeps the near end; CONFIGURE_MEM_SLOTS asks for the slots. */
static void test_negotiate_channel_and_slots(void **state)
{
    struct fb_test *t = *state;
    struct offer o = {
        .features = BIT(F_PROTOCOL_FEATURES),
        .pf = BIT(PF_BACKEND_REQ) | BIT(PF_REPLY_ACK) | BIT(PF_CONFIGURE_MEM_SLOTS),
        .expect_pf = BIT(PF_BACKEND_REQ) | BIT(PF_REPLY_ACK) | BIT(PF_CONFIGURE_MEM_SLOTS),
        .slots = 8,
    };
    struct pollfd p;
    struct stat st;
    char byte = 'x';

    script_negotiate(t->fb, &o);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, 0, ~0ull), 0);
    assert_true(vdev_vuc_backend_fd(t->c) >= 0);
    fb_wait(t->fb, 7);
    fb_check(t->fb, 5, R_GET_MAX_MEM_SLOTS, FB_V1, NULL, 0, 0);
    fb_check(t->fb, 6, R_SET_BACKEND_REQ_FD, FB_V1 | FB_NEED_REPLY, NULL, 0, 1);
    assert_int_equal(fstat(fb_msg(t->fb, 6)->fds[0], &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    /* The two ends are one channel. */
    assert_int_equal(write(fb_msg(t->fb, 6)->fds[0], &byte, 1), 1);
    p = (struct pollfd){ .fd = vdev_vuc_backend_fd(t->c), .events = POLLIN };
    assert_int_equal(poll(&p, 1, 1000), 1);
    fb_test_finish(t);
}

/* ---- memory ---- */

/* SET_MEM_TABLE with every region: the first at guest address 0, its user address
 * this process's mapping, one sealed memfd per region; the fake maps the fd it
 * got and sees what the client wrote. */
static void test_mem_table_sharing(void **state)
{
    struct fb_test *t = *state;
    struct offer o = { .features = BIT(F_PROTOCOL_FEATURES), .pf = 0 };
    uint64_t gpa0 = 1, gpa1 = 0;
    uint8_t *host0, *seen;
    const struct fb_msg *m;
    unsigned n = script_negotiate(t->fb, &o);

    fb_none(t->fb);
    fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_mem_add(t->c, MIB, &gpa0), -EINVAL);   /* not negotiated */
    assert_int_equal(vdev_vuc_negotiate(t->c, 0, 0), 0);
    assert_int_equal(vdev_vuc_mem_add(t->c, MIB + 1, &gpa0), -EINVAL);
    assert_int_equal(vdev_vuc_mem_add(t->c, MIB, &gpa0), 0);
    assert_true(gpa0 == 0);
    host0 = vdev_vuc_host(t->c, 0, MIB);
    assert_non_null(host0);
    memcpy(host0 + 0x1234, "written by the client", 21);
    assert_int_equal(vdev_vuc_mem_add(t->c, 2 * MIB, &gpa1), 0);
    assert_true(gpa1 == MIB + PAGE);
    fb_wait(t->fb, n + 2);

    m = fb_msg(t->fb, n);
    fb_check_hdr(t->fb, n, R_SET_MEM_TABLE, FB_V1, 8 + 32, 1);
    assert_int_equal(get32(m->payload, 0), 1);
    assert_true(get64(m->payload, 8) == 0);
    assert_true(get64(m->payload, 16) == MIB);
    assert_true(get64(m->payload, 24) == (uint64_t)(uintptr_t)host0);
    assert_true(get64(m->payload, 32) == 0);
    assert_true(fcntl(m->fds[0], F_GET_SEALS) & F_SEAL_SHRINK);
    seen = mmap(NULL, MIB, PROT_READ, MAP_SHARED, m->fds[0], 0);
    assert_true(seen != MAP_FAILED);
    assert_memory_equal(seen + 0x1234, "written by the client", 21);
    munmap(seen, MIB);

    m = fb_msg(t->fb, n + 1);
    fb_check_hdr(t->fb, n + 1, R_SET_MEM_TABLE, FB_V1, 8 + 64, 2);
    assert_int_equal(get32(m->payload, 0), 2);
    assert_true(get64(m->payload, 40) == MIB + PAGE);
    assert_true(get64(m->payload, 48) == 2 * MIB);
    assert_true(get64(m->payload, 56) ==
                (uint64_t)(uintptr_t)vdev_vuc_host(t->c, MIB + PAGE, 2 * MIB));
    assert_true(same_file(m->fds[0], fb_msg(t->fb, n)->fds[0]));
    assert_false(same_file(m->fds[1], m->fds[0]));
    fb_test_finish(t);
}

/* With CONFIGURE_MEM_SLOTS each region goes alone in ADD_MEM_REG, up to the
 * back-end's slots. */
static void test_mem_add_reg_sharing(void **state)
{
    struct fb_test *t = *state;
    struct offer o = {
        .features = BIT(F_PROTOCOL_FEATURES), .pf = BIT(PF_CONFIGURE_MEM_SLOTS),
        .expect_pf = BIT(PF_CONFIGURE_MEM_SLOTS), .slots = 1,
    };
    unsigned n = script_negotiate(t->fb, &o);
    const struct fb_msg *m;
    uint64_t gpa;

    fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, 0, ~0ull), 0);
    assert_int_equal(vdev_vuc_mem_add(t->c, 64 * 1024, &gpa), 0);
    assert_int_equal(vdev_vuc_mem_add(t->c, 64 * 1024, &gpa), -ENOSPC);
    fb_test_finish(t);
    m = fb_msg(t->fb, n);
    fb_check_hdr(t->fb, n, R_ADD_MEM_REG, FB_V1, 40, 1);
    assert_true(get64(m->payload, 0) == 0);
    assert_true(get64(m->payload, 8) == 0);
    assert_true(get64(m->payload, 16) == 64 * 1024);
    assert_true(fcntl(m->fds[0], F_GET_SEALS) & F_SEAL_SHRINK);
    assert_int_equal(t->fb->nmsgs, n + 1);
}

/* Aligned, disjoint, reusable after free, coalescing, and refusing double frees
 * and addresses outside memory. */
static void test_alloc(void **state)
{
    struct fb_test *t = *state;
    struct offer o = { .features = 0 };
    uint64_t a, b, c2, d, all;

    script_negotiate(t->fb, &o);
    fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, 0, 0), 0);
    assert_int_equal(vdev_vuc_mem_add(t->c, 64 * 1024, NULL), 0);
    assert_int_equal(vdev_vuc_alloc(t->c, 100, 64, &a), 0);
    assert_int_equal(vdev_vuc_alloc(t->c, 4096, 4096, &b), 0);
    assert_int_equal(vdev_vuc_alloc(t->c, 10, 1, &c2), 0);
    assert_true(a % 64 == 0 && b % 4096 == 0);
    assert_true(a + 100 <= b || b + 4096 <= a);
    assert_true(c2 >= a + 100 || c2 + 10 <= a);
    assert_true(c2 >= b + 4096 || c2 + 10 <= b);
    assert_int_equal(vdev_vuc_alloc(t->c, 100, 3, &d), -EINVAL);
    assert_int_equal(vdev_vuc_alloc(t->c, 0, 8, &d), -EINVAL);
    assert_int_equal(vdev_vuc_alloc(t->c, 64 * 1024, 8, &d), -ENOMEM);
    assert_int_equal(vdev_vuc_free(t->c, b, 4096), 0);
    assert_int_equal(vdev_vuc_free(t->c, b, 4096), -EINVAL);      /* twice */
    assert_int_equal(vdev_vuc_free(t->c, b - 64, 128), -EINVAL);  /* starts in free */
    assert_int_equal(vdev_vuc_free(t->c, c2, 20), -EINVAL);       /* runs into free */
    assert_int_equal(vdev_vuc_free(t->c, 1 * MIB, 16), -EINVAL);   /* no memory there */
    assert_int_equal(vdev_vuc_alloc(t->c, 4096, 4096, &d), 0);
    assert_true(d == b);
    assert_int_equal(vdev_vuc_free(t->c, d, 4096), 0);
    assert_int_equal(vdev_vuc_free(t->c, a, 100), 0);
    assert_int_equal(vdev_vuc_free(t->c, c2, 10), 0);
    assert_int_equal(vdev_vuc_alloc(t->c, 64 * 1024, 8, &all), 0);  /* merged again */
    assert_true(all == 0);
    fb_test_finish(t);
}

/* ---- the test as the device, on what the back-end was sent ---- */

struct dev {
    struct vdev_mem *mem;
    struct vdev_vq *vq;
    uint64_t desc, driver, device;
    uint32_t size, base;
    int kick_fd, call_fd;
    struct iovec iov[16];
    uint64_t iov_gpa[16];
    struct vdev_vq_req req;
};

/* Maps the regions of a SET_MEM_TABLE message as a back-end would. */
static void dev_map(struct dev *d, const struct fb_msg *m)
{
    assert_int_equal(vdev_mem_new(&d->mem), 0);
    for (uint32_t i = 0; i < get32(m->payload, 0); i++) {
        const uint8_t *r = m->payload + 8 + 32 * i;
        struct vdev_mem_region mr = {
            .gpa = get64(r, 0), .size = get64(r, 8), .user_addr = get64(r, 16),
            .fd_offset = get64(r, 24), .fd = m->fds[i], .access = VDEV_MEM_RW,
        };

        assert_int_equal(vdev_mem_add(d->mem, &mr), 0);
    }
}

/* Reads NUM, ADDR, BASE, CALL, KICK at messages first.. and checks what they
 * say against the client's own view. */
static void dev_learn_queue(struct dev *d, struct fb_test *t, unsigned first, uint16_t index,
                            uint16_t size)
{
    const struct fb_msg *m;
    uint8_t p[8];
    uint64_t dlen, alen, ulen;
    int kick, call;

    put32(p, 0, index);
    put32(p, 4, size);
    fb_check(t->fb, first, R_SET_VRING_NUM, FB_V1, p, 8, 0);
    d->size = size;

    m = fb_msg(t->fb, first + 1);
    fb_check_hdr(t->fb, first + 1, R_SET_VRING_ADDR, FB_V1, 40, 0);
    assert_int_equal(get32(m->payload, 0), index);
    assert_int_equal(get32(m->payload, 4), 0);                 /* no VHOST_VRING_F_LOG */
    assert_int_equal(vdev_mem_uva_to_gpa(d->mem, get64(m->payload, 8), &d->desc), 0);
    assert_int_equal(vdev_mem_uva_to_gpa(d->mem, get64(m->payload, 16), &d->device), 0);
    assert_int_equal(vdev_mem_uva_to_gpa(d->mem, get64(m->payload, 24), &d->driver), 0);
    assert_true(get64(m->payload, 32) == d->device);           /* log: used ring's gpa */
    /* The user addresses are the client's own addresses of those guest addresses. */
    dlen = 16, alen = 4, ulen = 4;
    assert_true(get64(m->payload, 8) == (uint64_t)(uintptr_t)vdev_vuc_host(t->c, d->desc, dlen));
    assert_true(get64(m->payload, 24) == (uint64_t)(uintptr_t)vdev_vuc_host(t->c, d->driver, alen));
    assert_true(get64(m->payload, 16) == (uint64_t)(uintptr_t)vdev_vuc_host(t->c, d->device, ulen));

    m = fb_msg(t->fb, first + 2);
    fb_check_hdr(t->fb, first + 2, R_SET_VRING_BASE, FB_V1, 8, 0);
    assert_int_equal(get32(m->payload, 0), index);
    d->base = get32(m->payload, 4);

    assert_int_equal(vdev_vuc_queue_fds(t->c, index, &kick, &call), 0);
    put64(p, 0, index);
    fb_check(t->fb, first + 3, R_SET_VRING_CALL, FB_V1, p, 8, 1);
    assert_true(same_file(fb_msg(t->fb, first + 3)->fds[0], call));
    d->call_fd = fb_msg(t->fb, first + 3)->fds[0];
    fb_check(t->fb, first + 4, R_SET_VRING_KICK, FB_V1, p, 8, 1);
    assert_true(same_file(fb_msg(t->fb, first + 4)->fds[0], kick));
    d->kick_fd = fb_msg(t->fb, first + 4)->fds[0];
    put32(p, 0, index);
    put32(p, 4, 1);
    fb_check(t->fb, first + 5, R_SET_VRING_ENABLE, FB_V1, p, 8, 0);
}

static void dev_start(struct dev *d, bool packed)
{
    struct vdev_vq_config cfg = {
        .size = (uint16_t)d->size, .packed = packed, .event_idx = true, .indirect = true,
        .desc_gpa = d->desc, .driver_gpa = d->driver, .device_gpa = d->device,
        .mem = d->mem, .call_fd = d->call_fd, .base = d->base,
    };

    assert_int_equal(vdev_vq_new(&d->vq), 0);
    assert_int_equal(vdev_vq_start(d->vq, &cfg), 0);
    d->req = (struct vdev_vq_req){ .iov = d->iov, .iov_gpa = d->iov_gpa, .iov_cap = 16 };
}

/* Serves up to n requests: answers each with "resp" and its first byte. */
static unsigned dev_serve(struct dev *d, unsigned n)
{
    unsigned done = 0;

    while (done < n && vdev_vq_pop(d->vq, &d->req) == 1) {
        const uint8_t *in = d->iov[0].iov_base;
        uint8_t *out = d->iov[d->req.n_out].iov_base;

        out[0] = 'R';
        out[1] = in[0];
        assert_int_equal(vdev_vq_push(d->vq, &d->req, 2), 0);
        done++;
    }
    vdev_vq_notify(d->vq);
    return done;
}

static void dev_free(struct dev *d)
{
    if (d->vq) {
        vdev_vq_stop(d->vq);
        vdev_vq_free(d->vq);
    }
    vdev_mem_free(d->mem);
    memset(d, 0, sizeof(*d));
}

/* Submits n requests of one readable and one writable buffer (every other one
 * indirect), with tags 'a' + first.. in the readable byte. */
static void submit(struct fb_test *t, uint16_t q, unsigned n, unsigned first, uint16_t *ids,
                   uint64_t *in_gpa)
{
    for (unsigned i = 0; i < n; i++) {
        struct vdev_vqd_buf out, in;
        uint8_t *p;

        assert_int_equal(vdev_vuc_alloc(t->c, 64, 16, &out.gpa), 0);
        assert_int_equal(vdev_vuc_alloc(t->c, 64, 16, &in.gpa), 0);
        out.len = 64;
        in.len = 64;
        p = vdev_vuc_host(t->c, out.gpa, 64);
        p[0] = (uint8_t)('a' + first + i);
        in_gpa[i] = in.gpa;
        assert_int_equal(vdev_vuc_submit(t->c, q, &out, 1, &in, 1, i % 2 == 1, &ids[i]), 0);
    }
}

/* Reaps n completions: each id is one handed out, with 2 bytes "R<tag>". */
static void reap(struct fb_test *t, uint16_t q, unsigned n, const uint16_t *ids,
                 const uint64_t *in_gpa, unsigned first)
{
    unsigned got = 0;

    while (got < n) {
        uint16_t id;
        uint32_t len;
        int ret = vdev_vuc_reap(t->c, q, &id, &len);
        unsigned i;

        if (ret == 0) {
            assert_int_equal(vdev_vuc_wait(t->c, q, 2000), 1);
            continue;
        }
        assert_int_equal(ret, 1);
        assert_int_equal(len, 2);
        for (i = 0; i < n && ids[i] != id; i++)
            ;
        assert_true(i < n);
        assert_memory_equal(vdev_vuc_host(t->c, in_gpa[i], 2),
                            ((uint8_t[]){ 'R', (uint8_t)('a' + first + i) }), 2);
        got++;
    }
}

/* Set-up sends NUM, ADDR (user addresses of the client's mapping, the used ring's
 * guest address as log address), BASE (fresh), CALL and KICK with the queue's
 * eventfds, ENABLE 1; then requests flow both ways through what was sent; stop
 * sends ENABLE 0 and GET_VRING_BASE. */
static void queue_round_trip(struct fb_test *t, bool packed)
{
    uint64_t feat = VQ_FEATURES | (packed ? BIT(VIRTIO_F_RING_PACKED) : 0);
    struct offer o = {
        .features = feat, .pf = BIT(PF_MQ), .expect_pf = BIT(PF_MQ), .queue_num = 2,
    };
    unsigned n = script_negotiate(t->fb, &o);
    uint16_t ids[8];
    uint64_t in_gpa[8], kicks;
    uint8_t p[8];
    struct dev d = { 0 };
    uint32_t base = 0;

    fb_none(t->fb);                        /* SET_MEM_TABLE */
    for (int i = 0; i < 6; i++)
        fb_none(t->fb);                    /* NUM ADDR BASE CALL KICK ENABLE */
    fb_none(t->fb);                        /* ENABLE 0 */
    put32(p, 0, 1);
    put32(p, 4, 8 | (packed ? 0x80008000u : 0));
    fb_reply(t->fb, R_GET_VRING_BASE, p, 8);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 1, 64, 0), -EINVAL);   /* no memory */
    assert_int_equal(vdev_vuc_negotiate(t->c, feat, ~0ull), 0);
    assert_int_equal(vdev_vuc_mem_add(t->c, MIB, NULL), 0);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 2, 64, 0), -ERANGE);   /* queue num 2 */
    assert_int_equal(vdev_vuc_queue_setup(t->c, 1, packed ? 0 : 48, 0), -EINVAL);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 1, 64, 0), 0);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 1, 64, 0), -EBUSY);
    fb_wait(t->fb, n + 7);

    dev_map(&d, fb_msg(t->fb, n));
    dev_learn_queue(&d, t, n + 1, 1, 64);
    assert_int_equal(d.base, packed ? 0x80008000u : 0);
    dev_start(&d, packed);

    submit(t, 1, 8, 0, ids, in_gpa);
    assert_int_equal(vdev_vuc_kick(t->c, 1), 1);
    assert_int_equal(read(d.kick_fd, &kicks, 8), 8);
    assert_int_equal(dev_serve(&d, 8), 8);
    reap(t, 1, 8, ids, in_gpa, 0);

    assert_int_equal(vdev_vuc_queue_stop(t->c, 1, &base), 0);
    assert_int_equal(base, 8 | (packed ? 0x80008000u : 0));
    assert_int_equal(vdev_vuc_queue_stop(t->c, 1, &base), -EINVAL);   /* stopped */
    fb_test_finish(t);
    put32(p, 0, 1);
    put32(p, 4, 0);
    fb_check(t->fb, n + 7, R_SET_VRING_ENABLE, FB_V1, p, 8, 0);
    fb_check(t->fb, n + 8, R_GET_VRING_BASE, FB_V1, p, 8, 0);
    assert_int_equal(t->fb->nmsgs, n + 9);
    dev_free(&d);
}

static void test_queue_split(void **state)
{
    queue_round_trip(*state, false);
}

static void test_queue_packed(void **state)
{
    queue_round_trip(*state, true);
}

/* ---- inflight ---- */

/* GET_INFLIGHT_FD with the ring layout, then at once SET_INFLIGHT_FD with the
 * area that came back; the client keeps it; not once a queue runs. */
static void test_inflight_setup(void **state)
{
    struct fb_test *t = *state;
    struct offer o = {
        .features = VQ_FEATURES, .pf = BIT(PF_INFLIGHT_SHMFD),
        .expect_pf = BIT(PF_INFLIGHT_SHMFD),
    };
    unsigned n = script_negotiate(t->fb, &o);
    int area = test_memfd("vuc-setup-inflight", 8192);
    struct vdev_vuc_inflight info;
    uint8_t p[24] = { 0 }, r[24] = { 0 };
    struct fb_step *s;

    put64(r, 0, 8192);
    s = fb_reply(t->fb, R_GET_INFLIGHT_FD, r, 24);
    s->fds[0] = dup(area);
    s->nfds = 1;
    fb_none(t->fb);                                 /* SET_INFLIGHT_FD */
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, VQ_FEATURES, ~0ull), 0);
    assert_int_equal(vdev_vuc_inflight(t->c, NULL), -1);
    assert_int_equal(vdev_vuc_inflight_setup(t->c, 2, 64), 0);
    assert_true(same_file(vdev_vuc_inflight(t->c, &info), area));
    assert_true(info.mmap_size == 8192 && info.num_queues == 2 && info.queue_size == 64);
    fb_test_finish(t);
    p[16] = 2;
    p[18] = 64;
    fb_check(t->fb, n, R_GET_INFLIGHT_FD, FB_V1, p, 24, 0);
    put64(p, 0, 8192);
    fb_check(t->fb, n + 1, R_SET_INFLIGHT_FD, FB_V1, p, 24, 1);
    assert_true(same_file(fb_msg(t->fb, n + 1)->fds[0], area));
    close(area);
}

/* ---- reconnect ---- */

/* A client set up with memory, the inflight area and queue 0 (running, 3 of 5
 * requests done) and queue 1 (stopped) loses its back-end. On the new one the
 * set-up is replayed: the same memfd at the same addresses, the inflight area,
 * queue 0 at base 3 (the used index in memory) with the same eventfds, not queue
 * 1; the two requests still out are served by the new back-end from the ring,
 * and queue 1 starts again at its kept base when asked. */
static void test_reconnect_replay(void **state)
{
    struct fb_test *t = *state;
    struct offer o = {
        .features = VQ_FEATURES, .pf = BIT(PF_INFLIGHT_SHMFD) | BIT(PF_MQ),
        .expect_pf = BIT(PF_INFLIGHT_SHMFD) | BIT(PF_MQ), .queue_num = 2,
    };
    unsigned n = script_negotiate(t->fb, &o), n2;
    int area = test_memfd("vuc-setup-reinflight", 8192);
    uint8_t r[24] = { 0 }, p[8];
    struct fb_step *s;
    struct fb *fb2;
    struct dev d = { 0 }, d2 = { 0 };
    uint16_t ids[5];
    uint64_t in_gpa[5];
    const struct fb_msg *m, *m2;

    put64(r, 0, 8192);
    fb_none(t->fb);                                      /* SET_MEM_TABLE */
    s = fb_reply(t->fb, R_GET_INFLIGHT_FD, r, 24);
    s->fds[0] = dup(area);
    s->nfds = 1;
    fb_none(t->fb);                                      /* SET_INFLIGHT_FD */
    for (int i = 0; i < 12; i++)
        fb_none(t->fb);                                  /* queues 0 and 1 */
    fb_none(t->fb);                                      /* ENABLE 1 0 */
    put32(p, 0, 1);
    put32(p, 4, 0);
    fb_reply(t->fb, R_GET_VRING_BASE, p, 8);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, VQ_FEATURES, ~0ull), 0);
    assert_int_equal(vdev_vuc_mem_add(t->c, MIB, NULL), 0);
    assert_int_equal(vdev_vuc_inflight_setup(t->c, 2, 64), 0);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 0, 64, 0), 0);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 1, 64, 0), 0);
    assert_int_equal(vdev_vuc_queue_stop(t->c, 1, NULL), 0);
    fb_wait(t->fb, n + 3 + 12 + 2);
    dev_map(&d, fb_msg(t->fb, n));
    dev_learn_queue(&d, t, n + 3, 0, 64);
    dev_start(&d, false);
    submit(t, 0, 5, 0, ids, in_gpa);
    assert_int_equal(vdev_vuc_kick(t->c, 0), 1);
    assert_int_equal(dev_serve(&d, 3), 3);

    /* The back-end goes away. */
    vdev_vuc_disconnect(t->c);
    assert_false(vdev_vuc_connected(t->c));
    fb_join(t->fb);
    dev_free(&d);

    fb2 = fb_new();
    n2 = script_negotiate(fb2, &o);
    for (int i = 0; i < 2 + 6 + 6; i++)
        fb_none(fb2);       /* MEM_TABLE, INFLIGHT, queue 0, then queue 1 by hand */
    fb_start(fb2);
    assert_int_equal(vdev_vuc_reconnect_fd(t->c, fb2->client_sock), 0);
    fb2->client_sock = -1;
    fb_wait(fb2, n2 + 8);
    m = fb_msg(t->fb, n);
    m2 = fb_msg(fb2, n2);
    fb_check(fb2, n2, R_SET_MEM_TABLE, FB_V1, m->payload, m->size, 1);
    assert_true(same_file(m2->fds[0], m->fds[0]));
    fb_check(fb2, n2 + 1, R_SET_INFLIGHT_FD, FB_V1, fb_msg(t->fb, n + 2)->payload, 24, 1);
    assert_true(same_file(fb_msg(fb2, n2 + 1)->fds[0], area));
    dev_map(&d2, m2);
    dev_learn_queue(&d2, t, n + 3, 0, 64);               /* what queue 0 was sent */
    for (unsigned i = 0; i < 5; i++) {
        if (i == 2)
            continue;                                    /* BASE differs */
        const struct fb_msg *a = fb_msg(t->fb, n + 3 + i), *b = fb_msg(fb2, n2 + 2 + i);

        fb_check(fb2, n2 + 2 + i, a->request, a->flags, a->payload, a->size, a->nfds);
        if (a->nfds)
            assert_true(same_file(a->fds[0], b->fds[0]));
    }
    put32(p, 0, 0);
    put32(p, 4, 3);                                      /* used->idx in memory */
    fb_check(fb2, n2 + 4, R_SET_VRING_BASE, FB_V1, p, 8, 0);
    put32(p, 4, 1);
    fb_check(fb2, n2 + 7, R_SET_VRING_ENABLE, FB_V1, p, 8, 0);

    /* The new back-end takes up the ring where it stood. */
    d2.base = 3;
    d2.call_fd = fb_msg(fb2, n2 + 5)->fds[0];
    dev_start(&d2, false);
    assert_int_equal(dev_serve(&d2, 5), 2);
    reap(t, 0, 5, ids, in_gpa, 0);

    /* Queue 1 was stopped: it starts at its kept base only when asked. */
    assert_int_equal(vdev_vuc_queue_start(t->c, 1), 0);
    fb_wait(fb2, n2 + 14);
    fb_check_hdr(fb2, n2 + 8, R_SET_VRING_NUM, FB_V1, 8, 0);
    put32(p, 0, 1);
    put32(p, 4, 0);
    fb_check(fb2, n2 + 10, R_SET_VRING_BASE, FB_V1, p, 8, 0);
    vdev_vuc_close(t->c);
    t->c = NULL;
    fb_join(fb2);
    assert_int_equal(fb2->nmsgs, n2 + 14);
    dev_free(&d2);
    fb_free(fb2);
    close(area);
}

/* Packed: the kept base is the position after the last used descriptor, reaped
 * or not: 3 requests of 2 descriptors, 2 used by the device, 1 reaped: 4. */
static void test_reconnect_packed_base(void **state)
{
    struct fb_test *t = *state;
    uint64_t feat = VQ_FEATURES | BIT(VIRTIO_F_RING_PACKED);
    struct offer o = { .features = feat };
    unsigned n = script_negotiate(t->fb, &o), n2;
    struct dev d = { 0 };
    struct fb *fb2;
    uint16_t ids[3], id;
    uint32_t len;
    uint8_t p[8];

    for (int i = 0; i < 7; i++)
        fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, feat, 0), 0);
    assert_int_equal(vdev_vuc_mem_add(t->c, MIB, NULL), 0);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 0, 16, 0), 0);
    fb_wait(t->fb, n + 7);
    dev_map(&d, fb_msg(t->fb, n));
    dev_learn_queue(&d, t, n + 1, 0, 16);
    dev_start(&d, true);
    for (unsigned i = 0; i < 3; i++) {
        struct vdev_vqd_buf out = { .len = 16 }, in = { .len = 16 };

        assert_int_equal(vdev_vuc_alloc(t->c, 16, 16, &out.gpa), 0);
        assert_int_equal(vdev_vuc_alloc(t->c, 16, 16, &in.gpa), 0);
        assert_int_equal(vdev_vuc_submit(t->c, 0, &out, 1, &in, 1, false, &ids[i]), 0);
    }
    vdev_vuc_kick(t->c, 0);
    assert_int_equal(dev_serve(&d, 2), 2);
    assert_int_equal(vdev_vuc_reap(t->c, 0, &id, &len), 1);
    vdev_vuc_disconnect(t->c);
    fb_join(t->fb);
    dev_free(&d);

    fb2 = fb_new();
    n2 = script_negotiate(fb2, &o);
    fb_start(fb2);
    assert_int_equal(vdev_vuc_reconnect_fd(t->c, fb2->client_sock), 0);
    fb2->client_sock = -1;
    vdev_vuc_close(t->c);
    t->c = NULL;
    fb_join(fb2);
    put32(p, 0, 0);
    put32(p, 4, (4 | 0x8000u) | ((4 | 0x8000u) << 16));
    fb_check(fb2, n2 + 3, R_SET_VRING_BASE, FB_V1, p, 8, 0);
    fb_free(fb2);
}

/* A used descriptor naming a buffer that is no longer outstanding (a device
 * that writes one twice) does not move the kept base. */
static void test_reconnect_packed_stale_id(void **state)
{
    struct fb_test *t = *state;
    uint64_t feat = VQ_FEATURES | BIT(VIRTIO_F_RING_PACKED);
    struct offer o = { .features = feat };
    unsigned n = script_negotiate(t->fb, &o), n2;
    struct dev d = { 0 };
    struct fb *fb2;
    struct vring_packed_desc *ring;
    uint16_t ids[2], id;
    uint32_t len;
    uint8_t p[8];

    for (int i = 0; i < 7; i++)
        fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, feat, 0), 0);
    assert_int_equal(vdev_vuc_mem_add(t->c, MIB, NULL), 0);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 0, 16, 0), 0);
    fb_wait(t->fb, n + 7);
    dev_map(&d, fb_msg(t->fb, n));
    dev_learn_queue(&d, t, n + 1, 0, 16);
    dev_start(&d, true);
    for (unsigned i = 0; i < 2; i++) {
        struct vdev_vqd_buf out = { .len = 16 }, in = { .len = 16 };

        assert_int_equal(vdev_vuc_alloc(t->c, 16, 16, &out.gpa), 0);
        assert_int_equal(vdev_vuc_alloc(t->c, 16, 16, &in.gpa), 0);
        assert_int_equal(vdev_vuc_submit(t->c, 0, &out, 1, &in, 1, false, &ids[i]), 0);
    }
    vdev_vuc_kick(t->c, 0);
    assert_int_equal(dev_serve(&d, 2), 2);
    assert_int_equal(vdev_vuc_reap(t->c, 0, &id, &len), 1);
    assert_int_equal(vdev_vuc_reap(t->c, 0, &id, &len), 1);
    /* Slot 4 (the next used one) now says "used" again, for a reaped id. */
    ring = vdev_vuc_host(t->c, d.desc, 16 * sizeof(*ring));
    ring[4].id = ids[0];
    ring[4].flags = (1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED);
    vdev_vuc_disconnect(t->c);
    fb_join(t->fb);
    dev_free(&d);

    fb2 = fb_new();
    n2 = script_negotiate(fb2, &o);
    fb_start(fb2);
    assert_int_equal(vdev_vuc_reconnect_fd(t->c, fb2->client_sock), 0);
    fb2->client_sock = -1;
    vdev_vuc_close(t->c);
    t->c = NULL;
    fb_join(fb2);
    put32(p, 0, 0);
    put32(p, 4, (4 | 0x8000u) | ((4 | 0x8000u) << 16));
    fb_check(fb2, n2 + 3, R_SET_VRING_BASE, FB_V1, p, 8, 0);
    fb_free(fb2);
}

/* A back-end that no longer offers the features in use is refused. */
static void test_reconnect_fewer_features(void **state)
{
    struct fb_test *t = *state;
    struct offer o = { .features = VQ_FEATURES }, o2 = { .features = BIT(F_PROTOCOL_FEATURES) };
    struct fb *fb2;

    script_negotiate(t->fb, &o);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_negotiate(t->c, VQ_FEATURES, 0), 0);
    vdev_vuc_disconnect(t->c);
    fb2 = fb_new();
    script_negotiate(fb2, &o2);
    fb_start(fb2);
    assert_int_equal(vdev_vuc_reconnect_fd(t->c, fb2->client_sock), -ENOTSUP);
    fb2->client_sock = -1;
    vdev_vuc_close(t->c);
    t->c = NULL;
    fb_free(fb2);
}

/* ---- connect by path ---- */

struct late_listener {
    char path[108];
    int fd;
};

static void *listen_later(void *arg)
{
    struct late_listener *l = arg;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    usleep(150 * 1000);
    memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        listen(l->fd, 1);
    return NULL;
}

/* A back-end that is starting is waited for; one that never comes is an error;
 * a path too long for a socket address is refused. */
static void test_connect_path(void **state)
{
    struct fb_test *t = *state;
    struct late_listener l = { .fd = -1 };
    char dir[] = "/tmp/vdev-vuc-XXXXXX", longpath[200];
    struct vdev_vuc *c = NULL;
    pthread_t th;

    assert_non_null(mkdtemp(dir));
    snprintf(l.path, sizeof(l.path), "%s/sock", dir);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(vdev_vuc_connect(longpath, 0, &c), -ENAMETOOLONG);
    assert_int_equal(vdev_vuc_connect(l.path, 0, &c), -ENOENT);
    assert_int_equal(vdev_vuc_connect(l.path, 50, &c), -ENOENT);
    assert_int_equal(pthread_create(&th, NULL, listen_later, &l), 0);
    assert_int_equal(vdev_vuc_connect(l.path, 3000, &c), 0);
    assert_true(vdev_vuc_connected(c));
    pthread_join(th, NULL);
    vdev_vuc_close(c);
    close(l.fd);
    unlink(l.path);
    rmdir(dir);
    (void)t;
}

#define T(f) cmocka_unit_test_setup_teardown(f, fb_test_setup, fb_test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_negotiate_intersection),
        T(test_negotiate_legacy),
        T(test_negotiate_channel_and_slots),
        T(test_mem_table_sharing),
        T(test_mem_add_reg_sharing),
        T(test_alloc),
        T(test_queue_split),
        T(test_queue_packed),
        T(test_inflight_setup),
        T(test_reconnect_replay),
        T(test_reconnect_packed_base),
        T(test_reconnect_packed_stale_id),
        T(test_reconnect_fewer_features),
        T(test_connect_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
