/* test_vfu_mig.c — migration through vdev's client and server: the features
 * and their probes, the state machine's paths (every direct arc touches STOP),
 * the device state saved in STOP_COPY and loaded in RESUMING, and the errors.
 * The test device's state is its BAR0 (test_vfu_fixture.h). */
#include <errno.h>
#include <string.h>

#include "test_vfu_fixture.h"

#define CHUNK 100u

static uint32_t state_of(struct vfx *f)
{
    uint32_t st = 99;

    assert_int_equal(vdev_vfuc_mig_state(f->c, &st), 0);
    return st;
}

static void set_scratch(struct vfx *f, uint32_t v)
{
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_SCRATCH0, &v, 4, false), 0);
}

/* MIGRATION (GET) and MIG_DEVICE_STATE (GET, SET) are there; MIGRATION has no
 * SET, DMA logging is not supported; the device starts RUNNING with
 * STOP_COPY support. */
static void test_mig_features(void **state)
{
    struct vfx *f = *state;
    uint64_t flags = 0;

    assert_int_equal(vdev_vfuc_feature_probe(f->c, VFIO_DEVICE_FEATURE_MIGRATION,
                                             VFIO_DEVICE_FEATURE_GET), 0);
    assert_int_equal(vdev_vfuc_feature_probe(f->c, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
                                             VFIO_DEVICE_FEATURE_GET |
                                             VFIO_DEVICE_FEATURE_SET), 0);
    assert_int_equal(vdev_vfuc_feature_probe(f->c, VFIO_DEVICE_FEATURE_MIGRATION,
                                             VFIO_DEVICE_FEATURE_SET), -ENOTSUP);
    assert_int_equal(vdev_vfuc_feature_probe(f->c, 6 /* DMA_LOGGING_START */,
                                             VFIO_DEVICE_FEATURE_SET), -ENOTSUP);
    assert_int_equal(vdev_vfuc_mig_flags(f->c, &flags), 0);
    assert_int_equal(flags, VFIO_MIGRATION_STOP_COPY);
    assert_int_equal(state_of(f), VFIO_DEVICE_STATE_RUNNING);
}

/* RUNNING -> STOP_COPY goes through STOP (two arcs); the state is read out in
 * pieces until a short one; after a change, RESUMING takes it back, and
 * RUNNING (through STOP, where the load is applied) runs with it. */
static void test_mig_save_load(void **state)
{
    struct vfx *f = *state;
    uint8_t saved[2 * TDEV_BAR0_SIZE];
    uint32_t total = 0, got = 0, back = 0;

    set_scratch(f, 0xfeedbeef);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_STOP_COPY), 0);
    assert_int_equal(f->dev.arcs, 2);
    assert_false(f->dev.running);
    assert_int_equal(state_of(f), VFIO_DEVICE_STATE_STOP_COPY);
    do {
        assert_int_equal(vdev_vfuc_mig_read(f->c, saved + total, CHUNK, &got), 0);
        total += got;
    } while (got == CHUNK);
    assert_int_equal(total, TDEV_BAR0_SIZE);

    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_STOP), 0);
    set_scratch(f, 0x1234);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_RESUMING), 0);
    for (uint32_t off = 0; off < total; off += CHUNK)
        assert_int_equal(vdev_vfuc_mig_write(f->c, saved + off,
                                             total - off < CHUNK ? total - off : CHUNK),
                         0);
    f->dev.arcs = 0;
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_RUNNING), 0);
    assert_int_equal(f->dev.arcs, 2);
    assert_true(f->dev.running);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           TDEV_REG_SCRATCH0, &back, 4), 0);
    assert_int_equal(back, 0xfeedbeef);
}

/* States this device has not (ERROR, RUNNING_P2P, PRE_COPY, past the enum),
 * data outside STOP_COPY / RESUMING, an incomplete load: EINVAL, and the state
 * stays. */
static void test_mig_errors(void **state)
{
    struct vfx *f = *state;
    uint8_t buf[16] = { 0 };
    uint32_t got;

    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_ERROR), -EINVAL);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_RUNNING_P2P),
                     -EINVAL);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, 6 /* PRE_COPY */), -EINVAL);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, 1000), -EINVAL);
    assert_int_equal(vdev_vfuc_mig_read(f->c, buf, sizeof(buf), &got), -EINVAL);
    assert_int_equal(vdev_vfuc_mig_write(f->c, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(f->dev.arcs, 0);
    assert_int_equal(state_of(f), VFIO_DEVICE_STATE_RUNNING);

    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_RESUMING), 0);
    assert_int_equal(vdev_vfuc_mig_read(f->c, buf, sizeof(buf), &got), -EINVAL);
    assert_int_equal(vdev_vfuc_mig_write(f->c, buf, 10), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_RUNNING), -EINVAL);
    assert_int_equal(state_of(f), VFIO_DEVICE_STATE_RESUMING);
    assert_true(vdev_vfuc_connected(f->c));
}

/* Messages of the wrong form: GET and SET together without PROBE, unknown
 * flag bits, neither GET, SET nor PROBE, a GET whose argsz cannot hold the
 * data, a SET without its data, MIG_DATA_READ above max_data_xfer_size or
 * with too small an argsz, MIG_DATA_WRITE whose size is not its data's. */
static void test_mig_bad_messages(void **state)
{
    struct vfx *f = *state;
    struct vfio_device_feature feat = { .argsz = 64 };
    struct vfu_mig_data d = { .argsz = 64, .size = 8 };
    uint8_t msg[32] = { 0 };

    feat.flags = VFIO_DEVICE_FEATURE_MIGRATION | VFIO_DEVICE_FEATURE_GET |
                 VFIO_DEVICE_FEATURE_SET;
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_FEATURE, 0, &feat, 8, NULL,
                                       0, NULL, 0, NULL), -EINVAL);
    feat.flags = VFIO_DEVICE_FEATURE_MIGRATION | VFIO_DEVICE_FEATURE_GET | (1u << 20);
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_FEATURE, 0, &feat, 8, NULL,
                                       0, NULL, 0, NULL), -EINVAL);
    feat.flags = VFIO_DEVICE_FEATURE_MIGRATION;
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_FEATURE, 0, &feat, 8, NULL,
                                       0, NULL, 0, NULL), -EINVAL);
    feat.flags = VFIO_DEVICE_FEATURE_MIGRATION | VFIO_DEVICE_FEATURE_GET;
    feat.argsz = 8;
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_FEATURE, 0, &feat, 8, NULL,
                                       0, NULL, 0, NULL), -EINVAL);
    feat.flags = VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE | VFIO_DEVICE_FEATURE_SET;
    feat.argsz = 16;
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_FEATURE, 0, &feat, 8, NULL,
                                       0, NULL, 0, NULL), -EINVAL);
    assert_int_equal(f->dev.arcs, 0);

    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_STOP_COPY), 0);
    d.size = f->caps.max_data_xfer_size + 1;
    d.argsz = UINT32_MAX;
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_MIG_DATA_READ, 0, &d, 8, NULL, 0,
                                       NULL, 0, NULL), -EINVAL);
    d.size = 16;
    d.argsz = 8 + 15;
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_MIG_DATA_READ, 0, &d, 8, NULL, 0,
                                       NULL, 0, NULL), -EINVAL);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_RESUMING), 0);
    d.size = 20;                                   /* 20 announced, 24 sent */
    memcpy(msg, &d, 8);
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_MIG_DATA_WRITE, 0, msg, 32, NULL,
                                       0, NULL, 0, NULL), -EINVAL);
    assert_int_equal(f->dev.mig_pos, 0);
}

/* The migration state is device state: a new client finds it; a reset returns
 * to RUNNING. */
static void test_mig_state_kept(void **state)
{
    struct vfx *f = *state;

    assert_int_equal(vdev_vfuc_mig_set_state(f->c, VFIO_DEVICE_STATE_STOP), 0);
    vdev_vfuc_close(f->c);
    vfx_wait_gone(f);
    f->c = vfx_connect(f);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), 0);
    assert_int_equal(state_of(f), VFIO_DEVICE_STATE_STOP);
    assert_int_equal(vdev_vfuc_reset(f->c), 0);
    assert_int_equal(state_of(f), VFIO_DEVICE_STATE_RUNNING);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, vfx_setup, vfx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_mig_features),
        T(test_mig_save_load),
        T(test_mig_errors),
        T(test_mig_bad_messages),
        T(test_mig_state_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
