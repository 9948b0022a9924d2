/* test_vfu_client.c — vdev's vfio-user client against a server written in the
 * test: replies are queued on the other end of a socketpair before the call,
 * so each case is exactly the bytes the spec allows or forbids. The client must
 * take what the spec allows (a server command before the reply, an error reply)
 * and close the connection on what it forbids (wrong id, wrong command, a
 * payload where none may be, fds that do not belong), leaking no fd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "helpers.h"
#include "vdev/sock.h"
#include "vdev/vfio_user_client.h"
#include "vfio-user/proto.h"

#define TIMEOUT_MS 2000

struct cf {
    int fds_before;
    int srv;                     /* the test's end */
    struct vdev_vfuc *c;
};

static int setup(void **state)
{
    struct cf *f = calloc(1, sizeof(*f));
    int sv[2];

    assert_non_null(f);
    f->fds_before = test_count_fds();
    test_socketpair(sv);
    f->srv = sv[1];
    assert_int_equal(vdev_vfuc_from_fd(sv[0], TIMEOUT_MS, &f->c), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct cf *f = *state;

    vdev_vfuc_close(f->c);
    close(f->srv);
    assert_no_fd_leak(f->fds_before);
    free(f);
    return 0;
}

static void queue(struct cf *f, uint16_t id, uint16_t cmd, uint32_t flags, uint32_t err,
                  const void *p, uint32_t n, const int *fds, size_t nfds)
{
    uint8_t buf[512];
    struct vfu_header h = { .msg_id = id, .command = cmd, .msg_size = 16 + n,
                            .flags = flags, .error_no = err };

    assert_true(n <= sizeof(buf) - 16);
    memcpy(buf, &h, 16);
    if (n)
        memcpy(buf + 16, p, n);
    assert_int_equal(vdev_sock_send(f->srv, buf, 16 + n, fds, nfds, TIMEOUT_MS), 0);
}

static void reply(struct cf *f, uint16_t id, uint16_t cmd, const void *p, uint32_t n)
{
    queue(f, id, cmd, VFU_F_TYPE_REPLY, 0, p, n, NULL, 0);
}

/* Reads one message the client sent: header, payload (up to cap), fds. */
static void take(struct cf *f, struct vfu_header *h, void *p, size_t cap, int *fds,
                 size_t *nfds)
{
    size_t more = 0, n;
    int dummy[VDEV_SOCK_MAX_FDS];
    size_t dn = 0;

    if (!fds) {
        fds = dummy;
        nfds = &dn;
    }
    assert_int_equal(vdev_sock_recv(f->srv, h, 16, fds, VDEV_SOCK_MAX_FDS, nfds,
                                    TIMEOUT_MS), 0);
    n = h->msg_size - 16;
    assert_true(n <= cap);
    assert_int_equal(vdev_sock_recv(f->srv, p, n, fds + *nfds, VDEV_SOCK_MAX_FDS - *nfds,
                                    &more, TIMEOUT_MS), 0);
    *nfds += more;
    if (fds == dummy)
        vdev_close_fds(dummy, dn);
}

static void negotiate(struct cf *f, const char *json, struct vdev_vfuc_caps *caps,
                      int want)
{
    uint8_t p[256];
    struct vfu_version v = { .major = 0, .minor = 0 };
    size_t n = strlen(json) + 1;

    memcpy(p, &v, 4);
    memcpy(p + 4, json, n);
    reply(f, 0, VFU_CMD_VERSION, p, (uint32_t)(4 + n));
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, caps), want);
}

/* A good VERSION reply: the server's numbers, defaults for what it left out;
 * and what we proposed is JSON with our four numbers. */
static void test_version(void **state)
{
    struct cf *f = *state;
    struct vdev_vfuc_caps caps;
    struct vfu_header h;
    uint8_t p[512];
    struct vfu_caps sent;

    negotiate(f, "{\"capabilities\":{\"max_msg_fds\":4,\"max_data_xfer_size\":65536,"
                 "\"pgsizes\":4096}}", &caps, 0);
    assert_int_equal(caps.max_msg_fds, 4);
    assert_int_equal(caps.max_data_xfer_size, 65536);
    assert_int_equal(caps.max_dma_maps, 65535);
    take(f, &h, p, sizeof(p), NULL, NULL);
    assert_int_equal(h.command, VFU_CMD_VERSION);
    assert_int_equal(h.flags, VFU_F_TYPE_COMMAND);
    assert_int_equal(vfu_caps_parse((char *)p + 4, h.msg_size - 20, &sent), 0);
    assert_int_equal(sent.present & 0xf, 0xf);
}

/* VERSION replies the spec forbids: another major, a higher minor, twin-socket
 * we did not ask for, JSON that is not. */
static void test_version_bad_replies(void **state)
{
    struct cf *f = *state;
    uint8_t p[64];
    struct vfu_version v = { .major = 1, .minor = 0 };

    memcpy(p, &v, 4);
    memcpy(p + 4, "{}", 3);
    reply(f, 0, VFU_CMD_VERSION, p, 7);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), -EPROTO);
    assert_false(vdev_vfuc_connected(f->c));
}

static void test_version_higher_minor(void **state)
{
    struct cf *f = *state;
    uint8_t p[8];
    struct vfu_version v = { .major = 0, .minor = 1 };

    memcpy(p, &v, 4);
    reply(f, 0, VFU_CMD_VERSION, p, 4);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), -EPROTO);
}

static void test_version_twin_not_asked(void **state)
{
    negotiate(*state, "{\"capabilities\":{\"twin_socket\":{\"supported\":true,"
                      "\"fd_index\":0}}}", NULL, -EPROTO);
}

static void test_version_bad_json(void **state)
{
    negotiate(*state, "{\"capabilities\":{\"max_msg_fds\":\"x\"}}", NULL, -EPROTO);
}

/* A reply with another id, or to another command, or not a reply: closed. */
static void test_wrong_id(void **state)
{
    struct cf *f = *state;

    reply(f, 1, VFU_CMD_DEVICE_RESET, NULL, 0);
    assert_int_equal(vdev_vfuc_reset(f->c), -EPROTO);
    assert_false(vdev_vfuc_connected(f->c));
    assert_int_equal(vdev_vfuc_reset(f->c), -ENOTCONN);
}

static void test_wrong_command(void **state)
{
    struct cf *f = *state;

    reply(f, 0, VFU_CMD_DMA_UNMAP, NULL, 0);
    assert_int_equal(vdev_vfuc_reset(f->c), -EPROTO);
}

static void test_unknown_flags(void **state)
{
    struct cf *f = *state;

    queue(f, 0, VFU_CMD_DEVICE_RESET, VFU_F_TYPE_REPLY | VFU_F_NO_REPLY, 0, NULL, 0,
          NULL, 0);
    assert_int_equal(vdev_vfuc_reset(f->c), -EPROTO);
}

/* An error reply is the server's errno, and the connection lives; errno 0 is
 * EREMOTEIO; an error reply with a payload breaks the spec. */
static void test_error_replies(void **state)
{
    struct cf *f = *state;
    uint32_t junk = 0;

    queue(f, 0, VFU_CMD_DEVICE_RESET, VFU_F_TYPE_REPLY | VFU_F_ERROR, EEXIST, NULL, 0,
          NULL, 0);
    assert_int_equal(vdev_vfuc_reset(f->c), -EEXIST);
    queue(f, 1, VFU_CMD_DEVICE_RESET, VFU_F_TYPE_REPLY | VFU_F_ERROR, 0, NULL, 0,
          NULL, 0);
    assert_int_equal(vdev_vfuc_reset(f->c), -EREMOTEIO);
    assert_true(vdev_vfuc_connected(f->c));
    queue(f, 2, VFU_CMD_DEVICE_RESET, VFU_F_TYPE_REPLY | VFU_F_ERROR, EINVAL, &junk, 4,
          NULL, 0);
    assert_int_equal(vdev_vfuc_reset(f->c), -EPROTO);
}

/* Commands from the server before our reply are answered on the main socket
 * ("Command Concurrency"): a DMA_READ of a window mapped without fd from its
 * memory, one outside every window EFAULT, any other command ENOTSUP; and our
 * reply is then taken. */
static void test_server_command_first(void **state)
{
    struct cf *f = *state;
    uint8_t mem[4096];
    struct vfu_dma_access a = { .addr = 0x10000 + 100, .count = 8 };
    struct vfu_dma_access bad = { .addr = 0x20000, .count = 8 };
    struct vfu_header h;
    uint8_t p[64];

    for (unsigned i = 0; i < sizeof(mem); i++)
        mem[i] = (uint8_t)i;
    reply(f, 0, VFU_CMD_DMA_MAP, NULL, 0);
    assert_int_equal(vdev_vfuc_dma_map_local(f->c, 0x10000, sizeof(mem), mem,
                                             VDEV_VFUC_DMA_READ), 0);
    queue(f, 9, VFU_CMD_DMA_READ, VFU_F_TYPE_COMMAND, 0, &a, sizeof(a), NULL, 0);
    queue(f, 10, VFU_CMD_DMA_READ, VFU_F_TYPE_COMMAND, 0, &bad, sizeof(bad), NULL, 0);
    queue(f, 11, VFU_CMD_DEVICE_RESET, VFU_F_TYPE_COMMAND, 0, NULL, 0, NULL, 0);
    reply(f, 1, VFU_CMD_DEVICE_RESET, NULL, 0);
    assert_int_equal(vdev_vfuc_reset(f->c), 0);

    take(f, &h, p, sizeof(p), NULL, NULL);
    assert_int_equal(h.command, VFU_CMD_DMA_MAP);
    take(f, &h, p, sizeof(p), NULL, NULL);
    assert_int_equal(h.command, VFU_CMD_DEVICE_RESET);
    take(f, &h, p, sizeof(p), NULL, NULL);
    assert_int_equal(h.msg_id, 9);
    assert_int_equal(h.flags, VFU_F_TYPE_REPLY);
    assert_int_equal(h.msg_size, 16 + 16 + 8);
    assert_memory_equal(p, &a, sizeof(a));
    assert_memory_equal(p + 16, mem + 100, 8);
    take(f, &h, p, sizeof(p), NULL, NULL);
    assert_int_equal(h.msg_id, 10);
    assert_int_equal(h.flags, VFU_F_TYPE_REPLY | VFU_F_ERROR);
    assert_int_equal(h.error_no, EFAULT);
    take(f, &h, p, sizeof(p), NULL, NULL);
    assert_int_equal(h.msg_id, 11);
    assert_int_equal(h.flags, VFU_F_TYPE_REPLY | VFU_F_ERROR);
    assert_int_equal(h.error_no, ENOTSUP);
    assert_int_equal(h.msg_size, 16);
}

/* DMA_UNMAP's reply must echo the request; REGION_READ's must carry count
 * bytes after the echoed access. */
static void test_reply_payloads(void **state)
{
    struct cf *f = *state;
    struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = 0x2000, .size = 0x1000 };
    struct vfu_region_access a = { .offset = 0, .region = 0, .count = 4 };
    uint32_t v;

    reply(f, 0, VFU_CMD_DMA_UNMAP, &u, sizeof(u));
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, 0x2000, 0x1000, 0), 0);
    reply(f, 1, VFU_CMD_REGION_READ, &a, sizeof(a));          /* no data */
    assert_int_equal(vdev_vfuc_region_read(f->c, 0, 0, &v, 4), -EPROTO);
}

static void test_unmap_not_echoed(void **state)
{
    struct cf *f = *state;
    struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = 0x3000, .size = 0x1000 };

    reply(f, 0, VFU_CMD_DMA_UNMAP, &u, sizeof(u));
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, 0x2000, 0x1000, 0), -EPROTO);
}

/* Region info: an fd comes exactly with the MMAP flag; caps must lie inside the
 * reply and not loop. Every fd that came is closed (teardown counts). */
static void test_region_info_checks(void **state)
{
    struct cf *f = *state;
    struct vfio_region_info ri = { .argsz = sizeof(ri), .index = 2, .size = 4096,
                                   .flags = VFIO_REGION_INFO_FLAG_MMAP };
    struct vdev_vfuc_region r;

    reply(f, 0, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri));
    assert_int_equal(vdev_vfuc_region_info(f->c, 2, &r), -EPROTO);
    assert_int_equal(r.fd, -1);
}

static void test_region_info_fd_without_mmap(void **state)
{
    struct cf *f = *state;
    struct vfio_region_info ri = { .argsz = sizeof(ri), .index = 2, .size = 4096 };
    struct vdev_vfuc_region r;
    int ev = eventfd(0, EFD_CLOEXEC);

    queue(f, 0, VFU_CMD_DEVICE_GET_REGION_INFO, VFU_F_TYPE_REPLY, 0, &ri, sizeof(ri),
          &ev, 1);
    close(ev);
    assert_int_equal(vdev_vfuc_region_info(f->c, 2, &r), -EPROTO);
}

static void test_region_info_cap_loop(void **state)
{
    struct cf *f = *state;
    uint8_t p[sizeof(struct vfio_region_info) + 8];
    struct vfio_region_info ri = { .argsz = sizeof(p), .index = 2, .size = 4096,
                                   .flags = VFIO_REGION_INFO_FLAG_CAPS,
                                   .cap_offset = sizeof(ri) };
    struct vfio_info_cap_header ch = { .id = 99, .version = 1, .next = sizeof(ri) };
    struct vdev_vfuc_region r;

    memcpy(p, &ri, sizeof(ri));
    memcpy(p + sizeof(ri), &ch, sizeof(ch));
    reply(f, 0, VFU_CMD_DEVICE_GET_REGION_INFO, p, sizeof(p));
    assert_int_equal(vdev_vfuc_region_info(f->c, 2, &r), -EPROTO);
}

/* More fds than we announced: all closed, the connection too. */
static void test_too_many_fds(void **state)
{
    struct cf *f = *state;
    int ev[9];

    for (int i = 0; i < 9; i++)
        ev[i] = eventfd(0, EFD_CLOEXEC);
    queue(f, 0, VFU_CMD_DEVICE_RESET, VFU_F_TYPE_REPLY, 0, NULL, 0, ev, 9);
    for (int i = 0; i < 9; i++)
        close(ev[i]);
    assert_int_equal(vdev_vfuc_reset(f->c), -EPROTO);
}

/* No reply in the time limit: ETIMEDOUT, and the connection is closed. */
static void test_no_reply(void **state)
{
    struct cf *f = *state;
    struct vdev_vfuc *c;
    int sv[2];

    test_socketpair(sv);
    assert_int_equal(vdev_vfuc_from_fd(sv[0], 50, &c), 0);
    assert_int_equal(vdev_vfuc_reset(c), -ETIMEDOUT);
    assert_false(vdev_vfuc_connected(c));
    vdev_vfuc_close(c);
    close(sv[1]);
    (void)f;
}

/* SET_IRQS eventfds go in runs: at most the server's max_msg_fds per message,
 * and a run of -1 as a message without fds. */
static void test_set_irqs_runs(void **state)
{
    static const struct { uint32_t start, count; size_t nfds; } want[] = {
        { 0, 4, 4 }, { 4, 1, 1 }, { 5, 2, 0 }, { 7, 3, 3 },
    };
    struct cf *f = *state;
    int ev[10], fds[VDEV_SOCK_MAX_FDS];
    struct vfu_header h;
    struct vfio_irq_set s;
    size_t nfds;

    negotiate(f, "{\"capabilities\":{\"max_msg_fds\":4}}", NULL, 0);
    take(f, &h, (uint8_t[512]){ 0 }, 512, NULL, NULL);
    for (int i = 0; i < 10; i++)
        ev[i] = (i == 5 || i == 6) ? -1 : eventfd(0, EFD_CLOEXEC);
    for (uint16_t id = 1; id <= 4; id++)
        reply(f, id, VFU_CMD_DEVICE_SET_IRQS, NULL, 0);
    assert_int_equal(vdev_vfuc_set_irqs(f->c, 2, VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, 10, ev), 0);
    for (size_t i = 0; i < 4; i++) {
        take(f, &h, &s, sizeof(s), fds, &nfds);
        assert_int_equal(h.command, VFU_CMD_DEVICE_SET_IRQS);
        assert_int_equal(s.argsz, sizeof(s));
        assert_int_equal(s.start, want[i].start);
        assert_int_equal(s.count, want[i].count);
        assert_int_equal(nfds, want[i].nfds);
        vdev_close_fds(fds, nfds);
    }
    for (int i = 0; i < 10; i++)
        if (ev[i] >= 0)
            close(ev[i]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_version),
        T(test_version_bad_replies),
        T(test_version_higher_minor),
        T(test_version_twin_not_asked),
        T(test_version_bad_json),
        T(test_wrong_id),
        T(test_wrong_command),
        T(test_unknown_flags),
        T(test_error_replies),
        T(test_server_command_first),
        T(test_reply_payloads),
        T(test_unmap_not_echoed),
        T(test_region_info_checks),
        T(test_region_info_fd_without_mmap),
        T(test_region_info_cap_loop),
        T(test_too_many_fds),
        T(test_no_reply),
        T(test_set_irqs_runs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
