/* The null backend and the rules every submit call keeps: callbacks only from
 * reap, the eventfd, range and alignment checks, refused requests never
 * calling back. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "blk_fixture.h"

struct nfx {
    int fds_before;
    struct vdev_blk *blk;
    struct vdev_blk_ctx *ctx;
    struct bfx_done done;
    struct bfx_tag tag;
};

static int setup(void **state)
{
    struct nfx *f = calloc(1, sizeof(*f));

    f->fds_before = test_count_fds();
    assert_int_equal(vdev_blk_open("null:size=1M", false, &f->blk), 0);
    assert_int_equal(vdev_blk_ctx_new(8, &f->ctx), 0);
    f->tag.done = &f->done;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct nfx *f = *state;
    int before = f->fds_before;

    vdev_blk_ctx_free(f->ctx);
    vdev_blk_close(f->blk);
    free(f);
    assert_no_fd_leak(before);
    return 0;
}

static bool fd_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 0) == 1;
}

/* A read returns zeroes; its callback runs from reap, not from the submit call,
 * and the eventfd says there is something to reap. */
static void test_read_zeroes(void **state)
{
    struct nfx *f = *state;
    uint8_t buf[2][512];
    struct iovec iov[2] = { { buf[0], 512 }, { buf[1], 512 } };

    memset(buf, 0xaa, sizeof(buf));
    assert_false(fd_readable(vdev_blk_ctx_fd(f->ctx)));
    assert_int_equal(vdev_blk_readv(f->ctx, f->blk, 4096, iov, 2, bfx_cb, &f->tag), 0);
    assert_int_equal(f->done.calls, 0);
    assert_int_equal(vdev_blk_ctx_inflight(f->ctx), 1);
    assert_false(fd_readable(vdev_blk_ctx_fd(f->ctx)));   /* announced at submit */
    assert_int_equal(vdev_blk_ctx_submit(f->ctx), 0);
    assert_true(fd_readable(vdev_blk_ctx_fd(f->ctx)));
    assert_int_equal(vdev_blk_ctx_event(f->ctx), 1);
    assert_int_equal(f->done.calls, 1);
    assert_int_equal(f->done.results[0], 0);
    assert_false(fd_readable(vdev_blk_ctx_fd(f->ctx)));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(((uint8_t *)buf)[i], 0);
    assert_int_equal(vdev_blk_ctx_inflight(f->ctx), 0);
}

/* Writes, flushes, discards and write-zeroes all complete with 0. */
static void test_everything_completes(void **state)
{
    struct nfx *f = *state;
    uint8_t buf[1024] = { 1 };
    struct iovec iov = { buf, sizeof(buf) };

    assert_int_equal(vdev_blk_writev(f->ctx, f->blk, 0, &iov, 1, VDEV_BLK_FUA,
                                     bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_flush(f->ctx, f->blk, bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_discard(f->ctx, f->blk, 0, 4096, 0, bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_write_zeroes(f->ctx, f->blk, 512, 512, VDEV_BLK_UNMAP,
                                           bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_ctx_drain(f->ctx), 0);
    assert_int_equal(f->done.calls, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(f->done.results[i], 0);
}

/* Requests outside the rules are refused by the submit call and never call
 * back: past the end, wrapping, misaligned, unknown flags. */
static void test_refused(void **state)
{
    struct nfx *f = *state;
    uint8_t buf[1024];
    struct iovec iov = { buf, 512 }, odd = { buf, 100 };
    struct iovec huge[2] = { { buf, SIZE_MAX }, { buf, 512 } };

    assert_int_equal(vdev_blk_readv(f->ctx, f->blk, 1 << 20, &iov, 1, bfx_cb, &f->tag),
                     -ERANGE);
    assert_int_equal(vdev_blk_readv(f->ctx, f->blk, (1 << 20) - 512, &iov, 1,
                                    bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_readv(f->ctx, f->blk, UINT64_MAX - 511, &iov, 1,
                                    bfx_cb, &f->tag), -ERANGE);
    assert_int_equal(vdev_blk_readv(f->ctx, f->blk, 0, huge, 2, bfx_cb, &f->tag),
                     -ERANGE);
    assert_int_equal(vdev_blk_readv(f->ctx, f->blk, 100, &iov, 1, bfx_cb, &f->tag),
                     -EINVAL);
    assert_int_equal(vdev_blk_writev(f->ctx, f->blk, 0, &odd, 1, 0, bfx_cb, &f->tag),
                     -EINVAL);
    assert_int_equal(vdev_blk_writev(f->ctx, f->blk, 0, &iov, 1, 0x80, bfx_cb, &f->tag),
                     -EINVAL);
    assert_int_equal(vdev_blk_discard(f->ctx, f->blk, 0, 512, VDEV_BLK_UNMAP,
                                      bfx_cb, &f->tag), -EINVAL);
    assert_int_equal(vdev_blk_discard(f->ctx, f->blk, 512, (1 << 20), 0, bfx_cb, &f->tag),
                     -ERANGE);
    assert_int_equal(vdev_blk_write_zeroes(f->ctx, f->blk, UINT64_MAX - 511, 1024, 0,
                                           bfx_cb, &f->tag), -ERANGE);
    assert_int_equal(vdev_blk_ctx_inflight(f->ctx), 1);
    assert_int_equal(vdev_blk_ctx_drain(f->ctx), 0);
    assert_int_equal(f->done.calls, 1);         /* the one good read */
}

/* A read-only backend refuses writes, discards and write-zeroes with -EROFS,
 * and still reads and flushes. */
static void test_read_only_refuses(void **state)
{
    struct nfx *f = *state;
    struct vdev_blk *ro;
    uint8_t buf[512];
    struct iovec iov = { buf, sizeof(buf) };

    assert_int_equal(vdev_blk_open("null:size=1M", true, &ro), 0);
    assert_int_equal(vdev_blk_writev(f->ctx, ro, 0, &iov, 1, 0, bfx_cb, &f->tag), -EROFS);
    assert_int_equal(vdev_blk_discard(f->ctx, ro, 0, 512, 0, bfx_cb, &f->tag), -EROFS);
    assert_int_equal(vdev_blk_write_zeroes(f->ctx, ro, 0, 512, 0, bfx_cb, &f->tag),
                     -EROFS);
    assert_int_equal(vdev_blk_readv(f->ctx, ro, 0, &iov, 1, bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_flush(f->ctx, ro, bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_ctx_drain(f->ctx), 0);
    assert_int_equal(f->done.calls, 2);
    vdev_blk_close(ro);
}

/* Zero-length requests complete with 0; waiting with nothing in flight returns
 * at once. */
static void test_empty(void **state)
{
    struct nfx *f = *state;

    assert_int_equal(vdev_blk_ctx_wait(f->ctx), 0);
    assert_int_equal(vdev_blk_readv(f->ctx, f->blk, 0, NULL, 0, bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_discard(f->ctx, f->blk, 0, 0, 0, bfx_cb, &f->tag), 0);
    assert_int_equal(vdev_blk_ctx_wait(f->ctx), 2);
    assert_int_equal(f->done.calls, 2);
    assert_int_equal(vdev_blk_ctx_wait(f->ctx), 0);
}

/* Callbacks may submit more; those complete at a later reap, not in the same
 * one, and the eventfd is set again for them. */
struct chain {
    struct nfx *f;
    unsigned left;
};

static void chain_cb(void *opaque, int result)
{
    struct chain *c = opaque;

    assert_int_equal(result, 0);
    c->f->done.calls++;
    if (c->left > 0) {
        c->left--;
        assert_int_equal(vdev_blk_flush(c->f->ctx, c->f->blk, chain_cb, c), 0);
    }
}

static void test_submit_from_callback(void **state)
{
    struct nfx *f = *state;
    struct chain c = { f, 3 };

    assert_int_equal(vdev_blk_flush(f->ctx, f->blk, chain_cb, &c), 0);
    assert_int_equal(vdev_blk_ctx_event(f->ctx), 1);
    assert_true(fd_readable(vdev_blk_ctx_fd(f->ctx)));
    assert_int_equal(vdev_blk_ctx_drain(f->ctx), 0);
    assert_int_equal(f->done.calls, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_everything_completes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_from_callback, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
