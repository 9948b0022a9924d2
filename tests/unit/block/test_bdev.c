/* The file backend on a block device: a loop device over an image, so the
 * ioctl paths run (BLKGETSIZE64, BLKSSZGET, BLKDISCARD, BLKZEROOUT). Skipped
 * where no loop device can be made (not root, no loop driver). */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "blk_fixture.h"
#include "block/block_internal.h"

#define IMG_SIZE (4u << 20)

struct lfx {
    struct bfx *b;
    int loop_fd;            /* auto-clears when the last fd closes */
    char dev[64];
    struct bfx_done done;
    struct bfx_tag tag;
};

/* A loop device over the image; -1 when the system will not give one. */
static int loop_attach(struct lfx *l)
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), img;

    if (ctl < 0)
        return -1;
    img = open(l->b->path, O_RDWR | O_CLOEXEC);
    assert_true(img >= 0);
    for (int tries = 0; tries < 16; tries++) {
        struct loop_config cfg = { .fd = (uint32_t)img, .block_size = 512,
                                   .info = { .lo_flags = LO_FLAGS_AUTOCLEAR } };
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);

        if (n < 0)
            break;
        snprintf(l->dev, sizeof(l->dev), "/dev/loop%d", n);
        l->loop_fd = open(l->dev, O_RDWR | O_CLOEXEC);
        if (l->loop_fd < 0)
            continue;
        if (ioctl(l->loop_fd, LOOP_CONFIGURE, &cfg) == 0) {
            close(img);
            close(ctl);
            return 0;
        }
        close(l->loop_fd);      /* raced for it: take the next free one */
        l->loop_fd = -1;
        if (errno != EBUSY)
            break;
    }
    close(img);
    close(ctl);
    return -1;
}

static int setup(void **state)
{
    struct lfx *l = calloc(1, sizeof(*l));
    char spec[128];

    l->b = bfx_new(IMG_SIZE, 0);
    l->loop_fd = -1;
    l->tag.done = &l->done;
    *state = l;
    if (loop_attach(l) < 0)
        return 0;
    snprintf(spec, sizeof(spec), "file:path=%s", l->dev);
    assert_int_equal(vdev_blk_open(spec, false, &l->b->blk), 0);
    return 0;
}

static int teardown(void **state)
{
    struct lfx *l = *state;

    vdev_blk_close(l->b->blk);
    l->b->blk = NULL;
    if (l->loop_fd >= 0)
        close(l->loop_fd);
    bfx_free(l->b);
    free(l);
    return 0;
}

static struct lfx *need_loop(void **state)
{
    struct lfx *l = *state;

    if (l->loop_fd < 0) {
        print_message("no loop device here (not root, or no loop driver): skipped\n");
        skip();
    }
    return l;
}

/* The device's size and block size come from its ioctls; it can zero out, and
 * a loop device over a file can discard. */
static void test_info(void **state)
{
    struct lfx *l = need_loop(state);
    const struct vdev_blk_info *i = vdev_blk_get_info(l->b->blk);

    assert_true(l->b->blk->is_bdev);
    assert_int_equal(i->size, IMG_SIZE);
    assert_int_equal(i->block_size, 512);
    assert_true(i->physical_block_size >= 512);
    assert_true(i->write_zeroes);
    assert_true(i->discard);
}

/* Writes reach the image through the device; flush works; BLKZEROOUT zeroes
 * exactly its range; BLKDISCARD (punching the loop's file) too. */
static void test_io(void **state)
{
    struct lfx *l = need_loop(state);
    uint8_t buf[8192], back[8192];
    struct iovec iov = { buf, sizeof(buf) }, riov = { back, sizeof(back) };

    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(vdev_blk_writev(l->b->ctx, l->b->blk, 65536, &iov, 1, VDEV_BLK_FUA,
                                     bfx_cb, &l->tag), 0);
    assert_int_equal(vdev_blk_flush(l->b->ctx, l->b->blk, bfx_cb, &l->tag), 0);
    bfx_wait_calls(l->b->ctx, &l->done, 2);
    assert_int_equal(l->done.results[0], 0);
    assert_int_equal(l->done.results[1], 0);
    assert_int_equal(vdev_blk_readv(l->b->ctx, l->b->blk, 65536, &riov, 1, bfx_cb, &l->tag),
                     0);
    bfx_wait_calls(l->b->ctx, &l->done, 3);
    assert_memory_equal(back, buf, sizeof(buf));

    assert_int_equal(vdev_blk_write_zeroes(l->b->ctx, l->b->blk, 4096, 8192, VDEV_BLK_FUA,
                                           bfx_cb, &l->tag), 0);
    assert_int_equal(vdev_blk_discard(l->b->ctx, l->b->blk, 1 << 20, 1 << 20, 0,
                                      bfx_cb, &l->tag), 0);
    bfx_wait_calls(l->b->ctx, &l->done, 5);
    assert_int_equal(l->done.results[3], 0);
    assert_int_equal(l->done.results[4], 0);
    assert_int_equal(fsync(l->loop_fd), 0);
    bfx_check_file(l->b, 0, 4096, false);
    bfx_check_file(l->b, 4096, 8192, true);
    bfx_check_file(l->b, 12288, 65536 - 12288, false);
    assert_int_equal(vdev_blk_readv(l->b->ctx, l->b->blk, 1 << 20, &riov, 1, bfx_cb,
                                    &l->tag), 0);
    bfx_wait_calls(l->b->ctx, &l->done, 6);
    for (size_t i = 0; i < sizeof(back); i++)
        assert_int_equal(back[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
