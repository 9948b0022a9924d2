/* test_vu_migration.c — what live migration needs of a back-end: the shared
 * dirty log ("Migration") and the device state transfer ("Migrating back-end
 * state"). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/virtio_config.h>

#include "vu_fixture.h"
#include "vdev/dev_echo.h"

#define BIT(n) (1ull << (n))
#define LOG_BYTES 128u                  /* covers the 4 MiB of guest memory */
#define LOG_OFFSET 64u                  /* the log starts here in its fd */
#define USED_LOG_GPA 0x3f0000ull        /* log_guest_addr of ring 0 */

static uint64_t set_log_base(struct vf *f, int fd, uint64_t size, uint64_t offset)
{
    struct vu_log l = { .size = size, .offset = offset };
    uint64_t st = ~0ull;

    vf_send(f, VU_SET_LOG_BASE, 0, &l, sizeof(l), &fd, 1);
    assert_int_equal(vf_recv(f, VU_SET_LOG_BASE, &st, sizeof(st), NULL), 8);
    return st;
}

static bool page_dirty(const uint8_t *log, uint64_t gpa)
{
    uint64_t page = gpa / 4096;

    return log[page / 8] & (1u << (page % 8));
}

static uint64_t set_addr_log(struct vf *f, unsigned i, bool on)
{
    struct vhost_vring_addr a = {
        .index = i,
        .flags = on ? 1u << VHOST_VRING_F_LOG : 0,
        .desc_user_addr = vf_uva(f->ring[i].desc),
        .avail_user_addr = vf_uva(f->ring[i].driver),
        .used_user_addr = vf_uva(f->ring[i].device),
        .log_guest_addr = USED_LOG_GPA,
    };

    return vf_req(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

/* With LOG_ALL every page the device writes is marked in the log at its offset
 * in the fd, and used-ring writes at log_guest_addr when the ring has
 * VHOST_VRING_F_LOG; pages it only reads are not. Without LOG_ALL nothing is. */
static void test_dirty_log(void **state)
{
    struct vf *f = *state;
    uint64_t base = BIT(VIRTIO_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES);
    uint64_t out_gpa, in_gpa;
    int fd = vf_sealed_memfd("vu-log", 4096);
    uint8_t *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    uint8_t *log = map + LOG_OFFSET;

    assert_true(map != MAP_FAILED);
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "ring running");                /* the ring runs from here */
    /* The front-end's order: the log, used-ring logging, then LOG_ALL (a ring
     * restarted with LOG_ALL writes its used ring's flags, logged where the
     * ring says). */
    assert_int_equal(set_log_base(f, fd, LOG_BYTES, LOG_OFFSET), 0);
    assert_int_equal(set_addr_log(f, 0, true), 0);
    assert_int_equal(vf_req_u64(f, VU_SET_FEATURES, base | BIT(VHOST_F_LOG_ALL)), 0);

    out_gpa = VF_BUF_GPA + 8192ull * (f->next_buf % 128);
    in_gpa = out_gpa + 4096;
    vf_echo(f, 0, "logged");
    assert_true(page_dirty(log, in_gpa));
    assert_false(page_dirty(log, out_gpa));
    assert_true(page_dirty(log, USED_LOG_GPA));
    assert_false(page_dirty(log, f->ring[0].device));
    assert_false(page_dirty(log, f->ring[0].desc));
    assert_int_equal(map[0], 0);                  /* nothing before the offset */

    /* Without VHOST_VRING_F_LOG the used ring is logged where it is. */
    assert_int_equal(set_addr_log(f, 0, false), 0);
    vf_echo(f, 0, "used ring in place");
    assert_true(page_dirty(log, f->ring[0].device));

    /* LOG_ALL off: nothing more is logged. */
    assert_int_equal(vf_req_u64(f, VU_SET_FEATURES, base), 0);
    memset(map, 0, 4096);
    vf_echo(f, 0, "not logged");
    for (unsigned i = 0; i < 4096; i++)
        assert_int_equal(map[i], 0);
    munmap(map, 4096);
    close(fd);
}

/* SET_LOG_BASE checks the area against the fd: inside the file, no wrap, a
 * sealed file, a size; a bad one is refused and its fd closed. */
static void test_log_base_checks(void **state)
{
    struct vf *f = *state;
    int good = vf_sealed_memfd("vu-log", 8192), loose = test_memfd("vu-log-loose", 8192);
    int before;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_sync(f);
    before = test_count_fds();
    assert_int_not_equal(set_log_base(f, good, 4096, 4097), 0);
    assert_int_not_equal(set_log_base(f, good, 8193, 0), 0);
    assert_int_not_equal(set_log_base(f, good, 16, UINT64_MAX - 8), 0);
    assert_int_not_equal(set_log_base(f, good, UINT64_MAX, 1), 0);
    assert_int_not_equal(set_log_base(f, good, 0, 0), 0);
    assert_int_not_equal(set_log_base(f, loose, 128, 0), 0);
    assert_true(vf_log_wait("past the file's", 0));
    assert_true(vf_log_wait("not sealed", 0));
    assert_int_equal(set_log_base(f, good, 4096, 4096), 0);
    vf_sync(f);
    assert_int_equal(test_count_fds(), before);   /* the good one is mapped, not kept */

    /* Without LOG_SHMFD there is no log to set, and SET_LOG_BASE has no reply of
     * its own ("Communication"): only a REPLY_ACK answers it. */
    vf_connect(f);
    vf_negotiate(f, 0, BIT(VU_PF_REPLY_ACK));
    {
        struct vu_log l = { .size = 128 };

        assert_int_not_equal(vf_req(f, VU_SET_LOG_BASE, &l, sizeof(l), &good, 1), 0);
        vf_send(f, VU_SET_LOG_BASE, 0, &l, sizeof(l), &good, 1);
        assert_true(vf_silent(f, 100));
    }
    close(good);
    close(loose);
}

static uint64_t set_state_fd(struct vf *f, uint32_t dir, uint32_t phase, int fd)
{
    struct vu_transfer_state s = { .direction = dir, .phase = phase };
    uint64_t st = ~0ull;
    int back = -2;

    vf_send(f, VU_SET_DEVICE_STATE_FD, 0, &s, sizeof(s), &fd, 1);
    assert_int_equal(vf_recv(f, VU_SET_DEVICE_STATE_FD, &st, sizeof(st), &back), 8);
    assert_int_equal(back, -1);                   /* no channel of the back-end's */
    return st;
}

static uint32_t get_scratch(struct vf *f)
{
    struct vu_config c = { .offset = VDEV_ECHO_CFG_SCRATCH, .size = 4 };
    uint32_t v;

    vf_send(f, VU_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE + 4, NULL, 0);
    assert_int_equal(vf_recv(f, VU_GET_CONFIG, &c, sizeof(c), NULL), 16);
    memcpy(&v, c.payload, 4);
    return le32toh(v);
}

static uint64_t set_scratch(struct vf *f, uint32_t v)
{
    struct vu_config c = { .offset = VDEV_ECHO_CFG_SCRATCH, .size = 4 };

    v = htole32(v);
    memcpy(c.payload, &v, 4);
    return vf_req(f, VU_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 4, NULL, 0);
}

/* The state saved through one pipe loads through another; CHECK_DEVICE_STATE
 * reports the outcome; only while suspended. */
static void test_device_state(void **state)
{
    struct vf *f = *state;
    uint8_t saved[4096];
    ssize_t n, len = 0;
    int p[2];

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(set_scratch(f, 0xabcd), 0);

    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(set_state_fd(f, VU_TRANSFER_SAVE, VU_PHASE_STOPPED, p[1]), 0x100);
    close(p[1]);
    while ((n = read(p[0], saved + len, sizeof(saved) - (size_t)len)) > 0)
        len += n;
    close(p[0]);
    assert_true(len > 0);
    assert_int_equal(vf_get_u64(f, VU_CHECK_DEVICE_STATE), 0);

    assert_int_equal(set_scratch(f, 0), 0);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(set_state_fd(f, VU_TRANSFER_LOAD, VU_PHASE_STOPPED, p[0]), 0x100);
    close(p[0]);
    assert_int_equal(write(p[1], saved, (size_t)len), len);
    close(p[1]);
    assert_int_equal(vf_get_u64(f, VU_CHECK_DEVICE_STATE), 0);
    assert_int_equal(get_scratch(f), 0xabcd);

    /* State the device does not accept: CHECK says so. */
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(set_state_fd(f, VU_TRANSFER_LOAD, VU_PHASE_STOPPED, p[0]), 0x100);
    close(p[0]);
    assert_int_equal(write(p[1], "xyz", 3), 3);
    close(p[1]);
    assert_int_not_equal(vf_get_u64(f, VU_CHECK_DEVICE_STATE), 0);

    /* A direction or phase the spec does not define; a started ring. Errors
     * have bits 0-7 set and bit 8 (no fd). */
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_not_equal(set_state_fd(f, 2, VU_PHASE_STOPPED, p[1]) & 0xff, 0);
    assert_int_not_equal(set_state_fd(f, VU_TRANSFER_SAVE, 1, p[1]) & 0xff, 0);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "started");
    assert_int_equal(set_state_fd(f, VU_TRANSFER_SAVE, VU_PHASE_STOPPED, p[1]) & 0x1ff,
                     0x100 | EBUSY);
    vf_get_vring_base(f, 0);
    close(p[0]);                                  /* nobody will read: EPIPE */
    assert_int_equal(set_state_fd(f, VU_TRANSFER_SAVE, VU_PHASE_STOPPED, p[1]), 0x100);
    close(p[1]);
    assert_int_not_equal(vf_get_u64(f, VU_CHECK_DEVICE_STATE), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dirty_log, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_log_base_checks, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_device_state, vf_setup, vf_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
