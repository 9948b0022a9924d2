/* vdev-bench's job (tools/vdev-bench/job.c) against vdev's own vhost-user
 * back-end serving the virtio-blk device in-process, over a real UNIX socket:
 * verify passes on a real file and fails on a disk that loses writes; reads and
 * writes are counted and timed, on split and packed rings, one or two queues,
 * waiting or polling; what the device refuses ends the job with an error.
 * The same job over vfio-user, against the same device served in-process as a
 * virtio-pci function (virtio_vfu.h): verify passes on a file, split and
 * packed, and fails on a null disk. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "helpers.h"
#include "vdev/dev_virtio_blk.h"
#include "vdev/loop.h"
#include "vdev/vhost_user.h"
#include "vdev/virtio_dev.h"
#include "vdev/virtio_vfu.h"
#include "vdev/workers.h"
#include "../../tools/vdev-bench/job.h"

struct bfx {
    int fds_before;
    struct vdev_loop *loop;
    pthread_t thread;
    struct vdev_workers *workers;
    struct vdev_virtio_dev *dev;
    struct vdev_vu_backend *be;
    struct vdev_virtio_vfu *vfu;
    char dir[48], path[96], image[96];
    struct bench_options o;
    struct bench_result r;
};

static void *loop_main(void *arg)
{
    vdev_loop_run(arg);
    return NULL;
}

/* A back-end serving a virtio-blk device on backend (a block.h spec). */
static void serve(struct bfx *f, const char *backend, bool read_only)
{
    struct vdev_virtio_blk_config vc = { .backend = backend, .num_queues = 2,
                                         .read_only = read_only };
    struct vdev_workers_config wc = { .threads = 1, .name = "bbench" };
    struct vdev_vu_backend_config bc = { .listen_fd = -1, .conn_fd = -1 };

    assert_int_equal(vdev_virtio_blk_new(&vc, &f->dev), 0);
    assert_int_equal(vdev_workers_new(&wc, &f->workers), 0);
    bc.loop = f->loop;
    bc.workers = f->workers;
    bc.dev = f->dev;
    bc.socket_path = f->path;
    assert_int_equal(vdev_vu_backend_new(&bc, &f->be), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f->loop), 0);
}

/* The same device served over vfio-user, as a virtio-pci function. */
static void serve_vfu(struct bfx *f, const char *backend)
{
    struct vdev_virtio_blk_config vc = { .backend = backend, .num_queues = 2 };
    struct vdev_workers_config wc = { .threads = 1, .name = "bbenchvfu" };
    struct vdev_virtio_vfu_config cc = { .listen_fd = -1, .conn_fd = -1 };

    assert_int_equal(vdev_virtio_blk_new(&vc, &f->dev), 0);
    assert_int_equal(vdev_workers_new(&wc, &f->workers), 0);
    cc.loop = f->loop;
    cc.workers = f->workers;
    cc.dev = f->dev;
    cc.socket_path = f->path;
    assert_int_equal(vdev_virtio_vfu_new(&cc, &f->vfu), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f->loop), 0);
    f->o.transport = BENCH_VFIO_USER;
}

static int setup(void **state)
{
    struct bfx *f = calloc(1, sizeof(*f));
    FILE *img;

    assert_non_null(f);
    alarm(120);
    f->fds_before = test_count_fds();
    assert_int_equal(vdev_loop_new(&f->loop), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/vdev-bbench-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
    snprintf(f->image, sizeof(f->image), "%s/disk.img", f->dir);
    img = fopen(f->image, "w");
    assert_non_null(img);
    assert_int_equal(ftruncate(fileno(img), 8 << 20), 0);
    fclose(img);
    f->o = (struct bench_options){
        .socket = f->path, .rw = BENCH_RANDREAD, .bs = 4096, .iodepth = 8,
        .queues = 1, .seconds = 0.3, .seed = 1, .connect_ms = 5000,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct bfx *f = *state;

    if (f->be || f->vfu) {
        vdev_loop_stop(f->loop);
        pthread_join(f->thread, NULL);
        vdev_vu_backend_free(f->be);
        vdev_virtio_vfu_free(f->vfu);
        vdev_workers_free(f->workers);
        vdev_virtio_blk_free(f->dev);
    }
    vdev_loop_free(f->loop);
    unlink(f->image);
    rmdir(f->dir);
    assert_no_fd_leak(f->fds_before);
    alarm(0);
    free(f);
    return 0;
}

static void serve_image(struct bfx *f)
{
    char spec[128];

    snprintf(spec, sizeof(spec), "file:path=%s", f->image);
    serve(f, spec, false);
}

/* Every write on a real file is read back and matches: as many bytes verified
 * as written, more than one pass of requests in flight. */
static void test_verify_file(void **state)
{
    struct bfx *f = *state;

    serve_image(f);
    f->o.rw = BENCH_VERIFY;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), 0);
    assert_true(f->r.bytes_written > 8 * 4096);
    assert_true(f->r.bytes_verified == f->r.bytes_written);
    assert_true(f->r.mismatches == 0 && f->r.io_errors == 0);
    assert_true(f->r.ios == f->r.reads + f->r.writes);
    assert_true(f->r.writes * 4096 == f->r.bytes_written);
    assert_true(f->r.capacity == 8 << 20);
}

/* The same on packed rings, two queues, polling, indirect tables. */
static void test_verify_packed_two_queues_poll(void **state)
{
    struct bfx *f = *state;

    serve_image(f);
    f->o.rw = BENCH_VERIFY;
    f->o.packed = f->o.poll = f->o.indirect = true;
    f->o.queues = 2;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), 0);
    assert_true(f->r.bytes_written > 0);
    assert_true(f->r.bytes_verified == f->r.bytes_written);
}

/* A disk that keeps nothing (null: reads are zeroes) fails verification. */
static void test_verify_null_fails(void **state)
{
    struct bfx *f = *state;

    serve(f, "null:size=8M", false);
    f->o.rw = BENCH_VERIFY;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -EILSEQ);
    assert_true(f->r.mismatches >= 1);
}

static void serve_image_vfu(struct bfx *f)
{
    char spec[128];

    snprintf(spec, sizeof(spec), "file:path=%s", f->image);
    serve_vfu(f, spec);
}

/* Over vfio-user: every write on a real file read back and matching, the
 * capacity read from the device structure of BAR 0. */
static void test_vfu_verify_file(void **state)
{
    struct bfx *f = *state;

    serve_image_vfu(f);
    f->o.rw = BENCH_VERIFY;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), 0);
    assert_true(f->r.bytes_written > 8 * 4096);
    assert_true(f->r.bytes_verified == f->r.bytes_written);
    assert_true(f->r.mismatches == 0 && f->r.io_errors == 0);
    assert_true(f->r.ios == f->r.reads + f->r.writes);
    assert_true(f->r.capacity == 8 << 20);
    assert_false(f->r.features & (1ull << VIRTIO_F_RING_PACKED));
}

/* Over vfio-user, packed rings on two queues with indirect tables, waiting
 * on the MSI-X eventfds; then the same polling. */
static void test_vfu_verify_packed_two_queues(void **state)
{
    struct bfx *f = *state;

    serve_image_vfu(f);
    f->o.rw = BENCH_VERIFY;
    f->o.packed = f->o.indirect = true;
    f->o.queues = 2;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), 0);
    assert_true(f->r.features & (1ull << VIRTIO_F_RING_PACKED));
    assert_true(f->r.bytes_written > 0);
    assert_true(f->r.bytes_verified == f->r.bytes_written);
    /* A second client after the first: the function is reset and set up again. */
    f->o.poll = true;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), 0);
    assert_true(f->r.bytes_written > 0);
    assert_true(f->r.bytes_verified == f->r.bytes_written);
}

/* Over vfio-user, a disk that keeps nothing fails verification. */
static void test_vfu_verify_null_fails(void **state)
{
    struct bfx *f = *state;

    serve_vfu(f, "null:size=8M");
    f->o.rw = BENCH_VERIFY;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -EILSEQ);
    assert_true(f->r.mismatches >= 1);
}

/* Over vfio-user, more queues than the function has: -EINVAL, no request. */
static void test_vfu_bad_fit(void **state)
{
    struct bfx *f = *state;

    serve_vfu(f, "null:size=8M");
    f->o.queues = 3;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -EINVAL);
    assert_true(f->r.ios == 0);
    f->o.queues = 1;
    f->o.queue_size = 512;              /* the function's rings hold 256 at most */
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -EINVAL);
    f->o.queue_size = 0;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), 0);
    assert_true(f->r.ios > 0 && f->r.reads == f->r.ios);
}

static unsigned progress_calls;

static void count_progress(void *opaque, const struct bench_progress *p)
{
    (void)opaque;
    assert_true(p->interval > 0);
    progress_calls++;
}

/* Random reads at QD8 for 1.2 s: every request timed and counted, reads
 * only, the whole disk used, a progress call each second. */
static void test_randread_counts(void **state)
{
    struct bfx *f = *state;

    serve(f, "null:size=64M", false);
    f->o.seconds = 1.2;
    progress_calls = 0;
    assert_int_equal(bench_run(&f->o, &f->r, count_progress, NULL, NULL), 0);
    assert_true(f->r.ios > 0);
    assert_true(f->r.reads == f->r.ios && f->r.writes == 0);
    assert_true(f->r.lat.count == f->r.ios);
    assert_true(f->r.bytes == f->r.ios * 4096);
    assert_true(f->r.span == 64 << 20);
    assert_true(f->r.seconds >= 1.2);
    assert_true(progress_calls >= 1);
}

/* Writes to a read-only disk are refused before any request. */
static void test_readonly(void **state)
{
    struct bfx *f = *state;

    serve(f, "null:size=8M", true);
    f->o.rw = BENCH_RANDWRITE;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -EROFS);
    assert_true(f->r.ios == 0);
}

/* More queues than the device has, a span past its end, a ring too small for
 * the depth: -EINVAL before any request. */
static void test_bad_fit(void **state)
{
    struct bfx *f = *state;

    serve(f, "null:size=8M", false);
    f->o.queues = 3;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -EINVAL);
    f->o.queues = 1;
    f->o.size = 16 << 20;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -EINVAL);
    f->o.size = 0;
    f->o.iodepth = 100;
    f->o.queue_size = 256;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -EINVAL);
}

/* No back-end: the connect error, at once with no retry time. */
static void test_no_backend(void **state)
{
    struct bfx *f = *state;

    f->o.connect_ms = 0;
    assert_int_equal(bench_run(&f->o, &f->r, NULL, NULL, NULL), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verify_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_packed_two_queues_poll, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify_null_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randread_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfu_verify_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfu_verify_packed_two_queues, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vfu_verify_null_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfu_bad_fit, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
