#include <errno.h>
#include <unistd.h>

#include "helpers.h"
#include "blk_gate.h"
#include "block/block_internal.h"

static void gate_start(struct blk_req *r)
{
    struct blk_gate *g = r->blk->priv;

    if (r->op == BLK_OP_FLUSH || r->op == BLK_OP_READ) {
        if (r->op == BLK_OP_FLUSH)
            g->flushes_started++;
        else
            blk_iov_zero(r->iov, r->iovcnt);
        blk_req_finish(r, 0);
        return;
    }
    if (g->delay_ms) {
        struct io_uring_sqe *sqe = blk_ctx_sqe(r);

        if (!sqe)
            return;
        g->ts = (struct __kernel_timespec){ .tv_nsec = (long long)g->delay_ms * 1000000 };
        io_uring_prep_timeout(sqe, &g->ts, 0, 0);
        io_uring_sqe_set_data(sqe, r);
        return;
    }
    assert_true(g->nheld < BLK_GATE_MAX);
    g->flags[g->nheld] = r->flags;
    g->held[g->nheld++] = r;
}

/* Only timeouts reach the ring: their expiry is the write's success. */
static void gate_cqe(struct blk_req *r, int res)
{
    blk_req_finish(r, res == -ETIME ? 0 : res);
}

static const struct blk_driver gate_driver = {
    .name = "gate", .start = gate_start, .cqe = gate_cqe,
};

void blk_gate_new(struct blk_gate *g, uint64_t size, struct vdev_blk **out)
{
    *g = (struct blk_gate){ 0 };
    assert_int_equal(blk_new(&gate_driver, out), 0);
    (*out)->priv = g;
    (*out)->info = (struct vdev_blk_info){
        .size = size, .block_size = 512, .physical_block_size = 512,
        .discard = true, .write_zeroes = true,
    };
}

void blk_gate_release(struct blk_gate *g, unsigned i, int result)
{
    struct blk_req *r;
    uint64_t one = 1;

    assert_true(i < g->nheld && g->held[i]);
    r = g->held[i];
    g->held[i] = NULL;
    blk_req_finish(r, result);
    assert_int_equal(write(r->ctx->efd, &one, sizeof(one)), sizeof(one));
}

void blk_gate_release_all(struct blk_gate *g)
{
    for (unsigned i = 0; i < g->nheld; i++)
        if (g->held[i])
            blk_gate_release(g, i, 0);
}
