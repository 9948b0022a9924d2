/* test_vfu_mig.c — migration through vdev's client and server: the features
 * and their probes, the state machine's paths (every direct arc touches STOP),
 * the device state saved in STOP_COPY and loaded in RESUMING, and the errors.
 * The test device's state is its BAR0 (test_vfu_fixture.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

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
 * SET; DMA logging START/STOP (SET) and REPORT (GET) are there; the device
 * starts RUNNING with STOP_COPY support (it has no mig_flags op). */
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
    assert_int_equal(vdev_vfuc_feature_probe(f->c, VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
                                             VFIO_DEVICE_FEATURE_SET), 0);
    assert_int_equal(vdev_vfuc_feature_probe(f->c, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
                                             VFIO_DEVICE_FEATURE_SET), 0);
    assert_int_equal(vdev_vfuc_feature_probe(f->c, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
                                             VFIO_DEVICE_FEATURE_GET), 0);
    assert_int_equal(vdev_vfuc_feature_probe(f->c, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
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

/* --- DMA dirty page logging ------------------------------------------------------ */

#define IOVA   0x100000ull
#define PAGE   4096ull
#define NPAGES 8u

static void reg_write(struct vfx *f, uint32_t off, uint32_t v)
{
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 4,
                                            false), 0);
}

/* The device writes len bytes of its BAR2 to client memory at iova. */
static void device_writes(struct vfx *f, uint64_t iova, uint32_t len)
{
    reg_write(f, TDEV_REG_DMA_LO, (uint32_t)iova);
    reg_write(f, TDEV_REG_DMA_HI, (uint32_t)(iova >> 32));
    reg_write(f, TDEV_REG_DMA_LEN, len);
    reg_write(f, TDEV_REG_DMA_CMD, 2);
    assert_int_equal((int)tdev_reg(f, TDEV_REG_DMA_STATUS), 0);
}

static uint64_t report(struct vfx *f)
{
    uint64_t bm = 0xdead;

    assert_int_equal(vdev_vfuc_dma_logging_report(f->c, IOVA, NPAGES * PAGE, PAGE, &bm,
                                                  sizeof(bm)), 0);
    return bm;
}

/* A memfd window, logged: the device's writes through the server's memory map
 * and a write it reports itself show up as exactly their pages, once (the
 * report clears them); a page size of 8 KiB folds pairs of pages; logging
 * again while on is EBUSY, a report when off EINVAL. */
static void test_dirty_logging(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dirty", NPAGES * PAGE);
    struct vfio_device_feature_dma_logging_range r = { IOVA, NPAGES * PAGE };
    uint64_t page = 1000, bm = 0;

    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, NPAGES * PAGE, mfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_vfuc_dma_logging_report(f->c, IOVA, PAGE, PAGE, &bm, 8),
                     -EINVAL);
    assert_int_equal(vdev_vfuc_dma_logging_start(f->c, &page, &r, 1), 0);
    assert_int_equal(page, PAGE);              /* 1000 is no page size: 4 KiB */
    assert_int_equal(vdev_vfuc_dma_logging_start(f->c, &page, &r, 1), -EBUSY);
    assert_int_equal(report(f), 0);

    device_writes(f, IOVA + PAGE + 8, 16);                 /* page 1 */
    device_writes(f, IOVA + 3 * PAGE + 4000, 200);         /* pages 3 and 4 */
    assert_int_equal(vdev_vfu_server_mark_dirty(f->srv, IOVA + 6 * PAGE + 1, 1), 0);
    assert_int_equal(report(f), (1u << 1) | (1u << 3) | (1u << 4) | (1u << 6));
    assert_int_equal(report(f), 0);

    device_writes(f, IOVA + 7 * PAGE, 4);
    bm = 0;
    assert_int_equal(vdev_vfuc_dma_logging_report(f->c, IOVA, NPAGES * PAGE, 2 * PAGE,
                                                  &bm, sizeof(bm)), 0);
    assert_int_equal(bm, 1u << 3);
    assert_int_equal(vdev_vfuc_dma_logging_stop(f->c), 0);
    assert_int_equal(vdev_vfuc_dma_logging_report(f->c, IOVA, PAGE, PAGE, &bm, 8),
                     -EINVAL);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, NPAGES * PAGE, 0), 0);
    close(mfd);
}

/* DMA_UNMAP with VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP: the window's bitmap comes
 * back, then the window is gone; without logging it is refused. */
static void test_unmap_dirty_bitmap(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dirty", NPAGES * PAGE);
    struct vfio_device_feature_dma_logging_range r = { IOVA, NPAGES * PAGE };
    uint64_t page = PAGE, bm = 0;

    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, NPAGES * PAGE, mfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    assert_true(vdev_vfuc_dma_unmap_dirty(f->c, IOVA, NPAGES * PAGE, PAGE, &bm,
                                          sizeof(bm)) < 0);      /* no logging */
    assert_int_equal(vdev_vfuc_dma_logging_start(f->c, &page, &r, 1), 0);
    device_writes(f, IOVA + 2 * PAGE + 8, 16);                  /* page 2 */
    device_writes(f, IOVA + 5 * PAGE, 4);                       /* page 5 */
    assert_int_equal(vdev_vfuc_dma_unmap_dirty(f->c, IOVA, NPAGES * PAGE, PAGE, &bm,
                                               sizeof(bm)), 0);
    assert_int_equal(bm, (1u << 2) | (1u << 5));
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, NPAGES * PAGE, 0), -ENOENT);
    assert_int_equal(vdev_vfuc_dma_logging_stop(f->c), 0);
    close(mfd);
}

/* num_ranges 0 logs the windows mapped at START; a report outside them, or at
 * a page size the log cannot give, is refused and the connection lives. */
static void test_dirty_logging_all_windows(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dirty", NPAGES * PAGE);
    uint64_t page = 2 * PAGE, bm = 0;

    assert_int_equal(vdev_vfuc_dma_logging_start(f->c, &page, NULL, 0), -EINVAL);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, NPAGES * PAGE, mfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_vfuc_dma_logging_start(f->c, &page, NULL, 0), 0);
    assert_int_equal(page, 2 * PAGE);          /* a power of two >= 4 KiB is kept */
    device_writes(f, IOVA + 5 * PAGE, 8);
    assert_int_equal(report(f), 1u << 5);
    assert_int_equal(vdev_vfuc_dma_logging_report(f->c, IOVA + NPAGES * PAGE, PAGE, PAGE,
                                                  &bm, 8), -ENOENT);
    assert_int_equal(vdev_vfuc_dma_logging_report(f->c, IOVA, PAGE, 2048, &bm, 8),
                     -EINVAL);
    assert_true(vdev_vfuc_connected(f->c));
    /* The client's end stops the log with the windows (no leak: teardown). */
    close(mfd);
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
        T(test_dirty_logging),
        T(test_dirty_logging_all_windows),
        T(test_unmap_dirty_bitmap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
