/* The file backend on a real file and a real io_uring: round trips, short
 * transfers, retries, flush, discard, write-zeroes and their fallbacks, direct
 * I/O, a full ring, read-only. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "blk_fixture.h"
#include "block/block_internal.h"

#define IMG_SIZE (1u << 20)

struct tfx {
    struct bfx *b;
    struct bfx_done done;
    struct bfx_tag tag;
};

static int setup(void **state)
{
    struct tfx *t = calloc(1, sizeof(*t));

    t->b = bfx_new(IMG_SIZE, 0);
    t->tag.done = &t->done;
    assert_int_equal(bfx_open(t->b, "", false), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *t = *state;

    bfx_free(t->b);
    free(t);
    return 0;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 13);
}

/* Size, block size and support are what a regular file on this filesystem
 * gives. */
static void test_info(void **state)
{
    struct tfx *t = *state;
    const struct vdev_blk_info *i = vdev_blk_get_info(t->b->blk);

    assert_string_equal(vdev_blk_driver(t->b->blk), "file");
    assert_int_equal(i->size, IMG_SIZE);
    assert_int_equal(i->block_size, 512);
    assert_false(i->read_only);
    assert_false(i->direct);
    assert_true(i->write_zeroes);
    assert_true(i->discard);        /* ext4, xfs, btrfs, tmpfs all punch holes */
}

/* Data written through several iovecs lands in the file at the offset, and
 * reads back through other iovecs. */
static void test_write_read(void **state)
{
    struct tfx *t = *state;
    uint8_t a[1536], b[2560], back[4096];
    struct iovec w[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
    struct iovec r[3] = { { back, 512 }, { back + 512, 3000 }, { back + 3512, 584 } };
    uint8_t *file = malloc(4096);

    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    assert_int_equal(vdev_blk_writev(t->b->ctx, t->b->blk, 8192, w, 2, 0,
                                     bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 1);
    assert_int_equal(t->done.results[0], 0);
    bfx_pread(t->b, file, 4096, 8192);
    assert_memory_equal(file, a, sizeof(a));
    assert_memory_equal(file + sizeof(a), b, sizeof(b));
    bfx_check_file(t->b, 0, 8192, false);
    bfx_check_file(t->b, 12288, 4096, false);

    memset(back, 0, sizeof(back));
    assert_int_equal(vdev_blk_readv(t->b->ctx, t->b->blk, 8192, r, 3, bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 2);
    assert_int_equal(t->done.results[1], 0);
    assert_memory_equal(back, file, 4096);
    free(file);
}

/* The file shrank under the backend: the read comes back short, is resubmitted
 * for the rest, hits the end, and what lies past it reads as zeroes. */
static void test_read_past_eof(void **state)
{
    struct tfx *t = *state;
    uint8_t *buf = malloc(16384);
    struct iovec iov = { buf, 16384 };

    assert_int_equal(truncate(t->b->path, 8192 + 1000), 0);
    memset(buf, 0xee, 16384);
    assert_int_equal(vdev_blk_readv(t->b->ctx, t->b->blk, 4096, &iov, 1,
                                    bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 1);
    assert_int_equal(t->done.results[0], 0);
    for (uint64_t i = 0; i < 16384; i++) {
        uint8_t want = 4096 + i < 8192 + 1000 ? bfx_pattern(4096 + i) : 0;

        if (buf[i] != want)
            fail_msg("byte %llu is %#x, not %#x", (unsigned long long)i, buf[i], want);
    }
    free(buf);
}

/* Rewrites the result of the next completion the kernel posts. */
static void tamper_next_cqe(struct vdev_blk_ctx *c, int res)
{
    struct io_uring_cqe *cqe;

    assert_int_equal(vdev_blk_ctx_submit(c), 0);
    assert_int_equal(io_uring_wait_cqe(&c->ring, &cqe), 0);
    cqe->res = res;
}

/* A short read, -EAGAIN and -EINTR from the ring are resubmitted: the read
 * still returns every byte. */
static void test_short_and_retried(void **state)
{
    struct tfx *t = *state;
    static const int results[] = { 512, -EAGAIN, -EINTR, 1 };
    uint8_t buf[4096];
    struct iovec iov[2] = { { buf, 1024 }, { buf + 1024, 3072 } };

    for (size_t k = 0; k < sizeof(results) / sizeof(results[0]); k++) {
        memset(buf, 0, sizeof(buf));
        assert_int_equal(vdev_blk_readv(t->b->ctx, t->b->blk, 65536, iov, 2,
                                        bfx_cb, &t->tag), 0);
        tamper_next_cqe(t->b->ctx, results[k]);
        bfx_wait_calls(t->b->ctx, &t->done, (unsigned)k + 1);
        assert_int_equal(t->done.results[k], 0);
        for (size_t i = 0; i < sizeof(buf); i++)
            assert_int_equal(buf[i], bfx_pattern(65536 + i));
    }
}

/* A short write is resubmitted for the rest: the rest then fails past the
 * file size limit, and that error is the request's. */
static void test_short_write(void **state)
{
    struct tfx *t = *state;
    struct rlimit old, lim;
    uint8_t *buf = malloc(8192);
    struct iovec iov = { buf, 8192 };
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);

    fill(buf, 8192, 9);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = IMG_SIZE + 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    /* The backend's size is fixed at open: let it grow to write past the end. */
    t->b->blk->info.size = 2 * IMG_SIZE;
    assert_int_equal(vdev_blk_writev(t->b->ctx, t->b->blk, IMG_SIZE, &iov, 1, 0,
                                     bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 1);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(t->done.results[0], -EFBIG);
    {
        uint8_t got[4096];

        bfx_pread(t->b, got, 4096, IMG_SIZE);
        assert_memory_equal(got, buf, 4096);
    }
    free(buf);
}

/* A write that returns 0 bytes fails with -EIO instead of spinning. */
static void test_write_returns_zero(void **state)
{
    struct tfx *t = *state;
    uint8_t buf[4096] = { 0 };
    struct iovec iov = { buf, sizeof(buf) };

    assert_int_equal(vdev_blk_writev(t->b->ctx, t->b->blk, 0, &iov, 1, 0,
                                     bfx_cb, &t->tag), 0);
    tamper_next_cqe(t->b->ctx, 0);
    bfx_wait_calls(t->b->ctx, &t->done, 1);
    assert_int_equal(t->done.results[0], -EIO);
}

/* An error from the kernel is the request's. */
static void test_error_passes(void **state)
{
    struct tfx *t = *state;

    assert_int_equal(vdev_blk_flush(t->b->ctx, t->b->blk, bfx_cb, &t->tag), 0);
    tamper_next_cqe(t->b->ctx, -ENOSPC);
    bfx_wait_calls(t->b->ctx, &t->done, 1);
    assert_int_equal(t->done.results[0], -ENOSPC);
}

/* Flushes and FUA writes complete with 0 and the data is in the file. */
static void test_flush_fua(void **state)
{
    struct tfx *t = *state;
    uint8_t buf[4096];
    struct iovec iov = { buf, sizeof(buf) };

    fill(buf, sizeof(buf), 5);
    assert_int_equal(vdev_blk_writev(t->b->ctx, t->b->blk, 0, &iov, 1, VDEV_BLK_FUA,
                                     bfx_cb, &t->tag), 0);
    assert_int_equal(vdev_blk_flush(t->b->ctx, t->b->blk, bfx_cb, &t->tag), 0);
    assert_int_equal(vdev_blk_discard(t->b->ctx, t->b->blk, 65536, 4096, VDEV_BLK_FUA,
                                      bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(t->done.results[i], 0);
    {
        uint8_t got[4096];

        bfx_pread(t->b, got, sizeof(got), 0);
        assert_memory_equal(got, buf, sizeof(buf));
    }
}

/* A discarded range reads as zeroes afterwards (a punched hole); what is
 * around it keeps its data. */
static void test_discard(void **state)
{
    struct tfx *t = *state;

    assert_int_equal(vdev_blk_discard(t->b->ctx, t->b->blk, 16384, 32768, 0,
                                      bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 1);
    assert_int_equal(t->done.results[0], 0);
    bfx_check_file(t->b, 0, 16384, false);
    bfx_check_file(t->b, 16384, 32768, true);
    bfx_check_file(t->b, 49152, 16384, false);
}

/* Write-zeroes, with and without UNMAP, zeroes exactly its range; unaligned
 * to pages on purpose. */
static void test_write_zeroes(void **state)
{
    struct tfx *t = *state;

    assert_int_equal(vdev_blk_write_zeroes(t->b->ctx, t->b->blk, 1536, 5120, 0,
                                           bfx_cb, &t->tag), 0);
    assert_int_equal(vdev_blk_write_zeroes(t->b->ctx, t->b->blk, 131072 + 512, 65536,
                                           VDEV_BLK_UNMAP, bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 2);
    assert_int_equal(t->done.results[0], 0);
    assert_int_equal(t->done.results[1], 0);
    bfx_check_file(t->b, 0, 1536, false);
    bfx_check_file(t->b, 1536, 5120, true);
    bfx_check_file(t->b, 6656, 131072 + 512 - 6656, false);
    bfx_check_file(t->b, 131072 + 512, 65536, true);
    bfx_check_file(t->b, 131072 + 512 + 65536, 4096, false);
}

/* Without FALLOC_FL_ZERO_RANGE, zeroes are written: more than one round of
 * iovecs of the zero page, with FUA. */
static void test_write_zeroes_by_writes(void **state)
{
    struct tfx *t = *state;

    atomic_store(&t->b->blk->no_zero_range, true);
    assert_int_equal(vdev_blk_write_zeroes(t->b->ctx, t->b->blk, 512, 300 * 1024,
                                           VDEV_BLK_FUA, bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 1);
    assert_int_equal(t->done.results[0], 0);
    bfx_check_file(t->b, 0, 512, false);
    bfx_check_file(t->b, 512, 300 * 1024, true);
    bfx_check_file(t->b, 512 + 300 * 1024, 4096, false);
}

/* A kernel without IORING_OP_FALLOCATE: discard and write-zeroes run inline
 * and still complete through the context. */
static void test_fallocate_inline(void **state)
{
    struct tfx *t = *state;

    t->b->ctx->has_fallocate = false;
    assert_int_equal(vdev_blk_write_zeroes(t->b->ctx, t->b->blk, 0, 4096, 0,
                                           bfx_cb, &t->tag), 0);
    assert_int_equal(vdev_blk_discard(t->b->ctx, t->b->blk, 8192, 8192, 0,
                                      bfx_cb, &t->tag), 0);
    assert_int_equal(t->done.calls, 0);
    bfx_wait_calls(t->b->ctx, &t->done, 2);
    assert_int_equal(t->done.results[0], 0);
    assert_int_equal(t->done.results[1], 0);
    bfx_check_file(t->b, 0, 4096, true);
    bfx_check_file(t->b, 4096, 4096, false);
    bfx_check_file(t->b, 8192, 8192, true);
}

/* Many more requests than the ring holds are all accepted, queued, and
 * completed; every write lands. */
static void test_ring_full(void **state)
{
    struct tfx *t = *state;
    enum { N = 64 };
    struct vdev_blk_ctx *small;
    static uint8_t bufs[N][4096];
    struct bfx_tag tags[N];

    assert_int_equal(vdev_blk_ctx_new(4, &small), 0);
    for (int i = 0; i < N; i++) {
        struct iovec iov = { bufs[i], 4096 };

        memset(bufs[i], i + 1, 4096);
        tags[i] = (struct bfx_tag){ &t->done, i };
        assert_int_equal(vdev_blk_writev(small, t->b->blk, (uint64_t)i * 4096, &iov, 1,
                                         0, bfx_cb, &tags[i]), 0);
    }
    assert_int_equal(vdev_blk_ctx_inflight(small), N);
    assert_true(small->pending.head != NULL);       /* really more than it holds */
    assert_int_equal(vdev_blk_ctx_drain(small), 0);
    assert_int_equal(t->done.calls, N);
    for (int i = 0; i < N; i++) {
        uint8_t got[4096], want[4096];

        assert_int_equal(t->done.results[i], 0);
        memset(want, i + 1, sizeof(want));
        bfx_pread(t->b, got, sizeof(got), (uint64_t)i * 4096);
        assert_memory_equal(got, want, sizeof(got));
    }
    vdev_blk_ctx_free(small);
}

/* The eventfd becomes readable when a request completes in the kernel. */
static void test_eventfd(void **state)
{
    struct tfx *t = *state;
    uint8_t buf[512];
    struct iovec iov = { buf, sizeof(buf) };
    struct pollfd p = { .fd = vdev_blk_ctx_fd(t->b->ctx), .events = POLLIN };

    assert_int_equal(vdev_blk_readv(t->b->ctx, t->b->blk, 0, &iov, 1, bfx_cb, &t->tag), 0);
    assert_int_equal(vdev_blk_ctx_submit(t->b->ctx), 0);
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(vdev_blk_ctx_event(t->b->ctx), 1);
    assert_int_equal(t->done.results[0], 0);
    assert_int_equal(buf[0], bfx_pattern(0));
}

/* A read-only file: no discard or write-zeroes offered, writes refused. */
static void test_read_only_file(void **state)
{
    struct tfx *t = *state;
    struct vdev_blk *ro;
    uint8_t buf[512];
    struct iovec iov = { buf, sizeof(buf) };

    assert_int_equal(vdev_blk_open(t->b->spec, true, &ro), 0);
    assert_true(vdev_blk_get_info(ro)->read_only);
    assert_false(vdev_blk_get_info(ro)->discard);
    assert_false(vdev_blk_get_info(ro)->write_zeroes);
    assert_int_equal(vdev_blk_writev(t->b->ctx, ro, 0, &iov, 1, 0, bfx_cb, &t->tag),
                     -EROFS);
    assert_int_equal(vdev_blk_readv(t->b->ctx, ro, 512, &iov, 1, bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 1);
    assert_int_equal(buf[0], bfx_pattern(512));
    vdev_blk_close(ro);
}

/* direct=on: aligned buffers go straight to the file, unaligned ones through a
 * bounce buffer; both round-trip. Skipped only where O_DIRECT is refused. */
static void test_direct(void **state)
{
    struct tfx *t = *state;
    struct vdev_blk *d;
    uint8_t *al = NULL, *raw = malloc(3 * 4096 + 1), *un = raw + 1, back[8192];
    struct iovec wa = { NULL, 4096 }, wu[2] = { { un, 1000 }, { un + 1000, 3096 } };
    struct iovec r[2] = { { back + 1, 4096 }, { back + 4097, 4095 } };
    char spec[2048];
    int ret;

    snprintf(spec, sizeof(spec), "%s,direct=on", t->b->spec);
    ret = vdev_blk_open(spec, false, &d);
    if (ret == -EINVAL) {
        free(raw);
        skip();     /* prints that the test was skipped */
    }
    assert_int_equal(ret, 0);
    assert_true(vdev_blk_get_info(d)->direct);
    assert_int_equal(posix_memalign((void **)&al, 4096, 4096), 0);
    wa.iov_base = al;
    fill(al, 4096, 3);
    fill(un, 4096, 4);
    assert_int_equal(vdev_blk_writev(t->b->ctx, d, 0, &wa, 1, 0, bfx_cb, &t->tag), 0);
    assert_int_equal(vdev_blk_writev(t->b->ctx, d, 4096, wu, 2, VDEV_BLK_FUA,
                                     bfx_cb, &t->tag), 0);
    bfx_wait_calls(t->b->ctx, &t->done, 2);
    assert_int_equal(t->done.results[0], 0);
    assert_int_equal(t->done.results[1], 0);
    bfx_pread(t->b, back, 8192, 0);
    assert_memory_equal(back, al, 4096);
    assert_memory_equal(back + 4096, un, 4096);

    memset(back, 0, sizeof(back));
    r[1].iov_len = 4096 - 1;        /* 8191 bytes: not a block multiple */
    assert_int_equal(vdev_blk_readv(t->b->ctx, d, 0, r, 2, bfx_cb, &t->tag), -EINVAL);
    r[1].iov_len = 4096;
    {
        static uint8_t big[8193];

        r[0].iov_base = big + 1;
        r[1].iov_base = big + 4097;
        assert_int_equal(vdev_blk_readv(t->b->ctx, d, 0, r, 2, bfx_cb, &t->tag), 0);
        bfx_wait_calls(t->b->ctx, &t->done, 3);
        assert_int_equal(t->done.results[2], 0);
        assert_memory_equal(big + 1, al, 4096);
        assert_memory_equal(big + 4097, un, 4096);
    }
    vdev_blk_close(d);
    free(al);
    free(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_past_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_and_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_returns_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_fua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_zeroes_by_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallocate_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eventfd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
