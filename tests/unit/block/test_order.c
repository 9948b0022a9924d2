/* Flush ordering, seen from a backend that holds writes until the test lets
 * them go: a flush is issued only after the writes submitted before it, to the
 * same backend on the same context, have completed. */
#include <errno.h>
#include <stdlib.h>

#include "blk_fixture.h"
#include "blk_gate.h"

static struct blk_gate gates[2];

/* Completes held request i of g and reaps. */
static void gate_release(struct vdev_blk_ctx *c, struct blk_gate *g, unsigned i)
{
    blk_gate_release(g, i, 0);
    vdev_blk_ctx_reap(c);
}

struct ofx {
    int fds_before;
    struct vdev_blk *blk[2];
    struct vdev_blk_ctx *ctx;
    struct bfx_done done;
    struct bfx_tag tag[8];
    uint8_t buf[4096];
    struct iovec iov;
};

static int setup(void **state)
{
    struct ofx *f = calloc(1, sizeof(*f));

    f->fds_before = test_count_fds();
    for (int i = 0; i < 2; i++)
        blk_gate_new(&gates[i], 1 << 20, &f->blk[i]);
    assert_int_equal(vdev_blk_ctx_new(8, &f->ctx), 0);
    for (int i = 0; i < 8; i++)
        f->tag[i] = (struct bfx_tag){ &f->done, i };
    f->iov = (struct iovec){ f->buf, sizeof(f->buf) };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct ofx *f = *state;
    int before = f->fds_before;

    blk_gate_release_all(&gates[0]);
    blk_gate_release_all(&gates[1]);
    vdev_blk_ctx_free(f->ctx);
    vdev_blk_close(f->blk[0]);
    vdev_blk_close(f->blk[1]);
    free(f);
    assert_no_fd_leak(before);
    return 0;
}

static void write_tagged(struct ofx *f, int b, int tag)
{
    assert_int_equal(vdev_blk_writev(f->ctx, f->blk[b], (uint64_t)tag * 4096, &f->iov, 1,
                                     0, bfx_cb, &f->tag[tag]), 0);
}

/* Two writes in flight, then a flush: the flush is not issued until both have
 * completed, and its callback comes after theirs. */
static void test_flush_waits_for_writes(void **state)
{
    struct ofx *f = *state;

    write_tagged(f, 0, 0);
    write_tagged(f, 0, 1);
    assert_int_equal(vdev_blk_flush(f->ctx, f->blk[0], bfx_cb, &f->tag[2]), 0);
    vdev_blk_ctx_reap(f->ctx);
    assert_int_equal(gates[0].flushes_started, 0);
    assert_int_equal(f->done.calls, 0);

    gate_release(f->ctx, &gates[0], 1);
    assert_int_equal(gates[0].flushes_started, 0);
    assert_int_equal(f->done.calls, 1);

    gate_release(f->ctx, &gates[0], 0);
    assert_int_equal(gates[0].flushes_started, 1);
    vdev_blk_ctx_reap(f->ctx);
    assert_int_equal(f->done.calls, 3);
    assert_int_equal(f->done.tags[0], 1);
    assert_int_equal(f->done.tags[1], 0);
    assert_int_equal(f->done.tags[2], 2);
}

/* Discard and write-zeroes are writes: a flush waits for them too. */
static void test_flush_waits_for_ranges(void **state)
{
    struct ofx *f = *state;

    assert_int_equal(vdev_blk_discard(f->ctx, f->blk[0], 0, 4096, 0, bfx_cb, &f->tag[0]),
                     0);
    assert_int_equal(vdev_blk_write_zeroes(f->ctx, f->blk[0], 8192, 4096, 0, bfx_cb,
                                           &f->tag[1]), 0);
    assert_int_equal(vdev_blk_flush(f->ctx, f->blk[0], bfx_cb, &f->tag[2]), 0);
    gate_release(f->ctx, &gates[0], 0);
    assert_int_equal(gates[0].flushes_started, 0);
    gate_release(f->ctx, &gates[0], 1);
    assert_int_equal(gates[0].flushes_started, 1);
}

/* A write submitted after the flush, or to another backend, does not hold it. */
static void test_flush_not_held_by_others(void **state)
{
    struct ofx *f = *state;

    write_tagged(f, 1, 0);                  /* the other backend */
    assert_int_equal(vdev_blk_flush(f->ctx, f->blk[0], bfx_cb, &f->tag[1]), 0);
    assert_int_equal(gates[0].flushes_started, 1);
    write_tagged(f, 0, 2);                  /* after the flush */
    assert_int_equal(vdev_blk_flush(f->ctx, f->blk[1], bfx_cb, &f->tag[3]), 0);
    assert_int_equal(gates[1].flushes_started, 0);  /* this one waits for write 0 */
    vdev_blk_ctx_reap(f->ctx);
    assert_int_equal(f->done.calls, 1);
    assert_int_equal(f->done.tags[0], 1);
}

/* Two flushes behind two writes: the second also waits for the first write,
 * and they are issued in the order they came. */
static void test_flushes_keep_order(void **state)
{
    struct ofx *f = *state;

    write_tagged(f, 0, 0);
    assert_int_equal(vdev_blk_flush(f->ctx, f->blk[0], bfx_cb, &f->tag[1]), 0);
    write_tagged(f, 0, 2);
    assert_int_equal(vdev_blk_flush(f->ctx, f->blk[0], bfx_cb, &f->tag[3]), 0);
    gate_release(f->ctx, &gates[0], 1);     /* the second write */
    assert_int_equal(gates[0].flushes_started, 0);
    gate_release(f->ctx, &gates[0], 0);     /* the first */
    assert_int_equal(gates[0].flushes_started, 2);
    vdev_blk_ctx_reap(f->ctx);
    assert_int_equal(f->done.calls, 4);
    assert_int_equal(f->done.tags[0], 2);
    assert_int_equal(f->done.tags[1], 0);
    assert_int_equal(f->done.tags[2], 1);
    assert_int_equal(f->done.tags[3], 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flush_waits_for_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_waits_for_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_not_held_by_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flushes_keep_order, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
