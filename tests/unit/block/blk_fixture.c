#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blk_fixture.h"

uint8_t bfx_pattern(uint64_t off)
{
    return (uint8_t)(off * 7 + off / 4096 + 1);
}

static void make_dir(struct bfx *f)
{
    static const char *const bases[] = { "/var/tmp", "/tmp" };

    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        snprintf(f->dir, sizeof(f->dir), "%s/vdev-blk-XXXXXX", bases[i]);
        if (mkdtemp(f->dir))
            return;
    }
    fail_msg("no temporary directory");
}

static void write_image(struct bfx *f, uint64_t size)
{
    uint8_t buf[4096];
    int fd = open(f->path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    for (uint64_t off = 0; off < size; off += sizeof(buf)) {
        size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);

        for (size_t i = 0; i < n; i++)
            buf[i] = bfx_pattern(off + i);
        assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
    }
    close(fd);
}

struct bfx *bfx_new(uint64_t size, unsigned entries)
{
    struct bfx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->fds_before = test_count_fds();
    make_dir(f);
    snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
    write_image(f, size);
    assert_int_equal(vdev_blk_ctx_new(entries, &f->ctx), 0);
    return f;
}

int bfx_open(struct bfx *f, const char *extra, bool read_only)
{
    snprintf(f->spec, sizeof(f->spec), "file:path=%s%s", f->path, extra);
    return vdev_blk_open(f->spec, read_only, &f->blk);
}

void bfx_free(struct bfx *f)
{
    int before = f->fds_before;

    vdev_blk_ctx_free(f->ctx);
    vdev_blk_close(f->blk);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    assert_no_fd_leak(before);
}

void bfx_pread(struct bfx *f, void *buf, uint64_t len, uint64_t off)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

void bfx_check_file(struct bfx *f, uint64_t off, uint64_t len, bool zero)
{
    uint8_t *buf = malloc(len);

    assert_non_null(buf);
    bfx_pread(f, buf, len, off);
    for (uint64_t i = 0; i < len; i++) {
        uint8_t want = zero ? 0 : bfx_pattern(off + i);

        if (buf[i] != want)
            fail_msg("image byte %llu is %#x, not %#x", (unsigned long long)(off + i),
                     buf[i], want);
    }
    free(buf);
}

void bfx_cb(void *opaque, int result)
{
    struct bfx_tag *t = opaque;
    struct bfx_done *d = t->done;

    assert_true(d->calls < BFX_MAX_DONE);
    d->results[d->calls] = result;
    d->tags[d->calls] = t->tag;
    d->calls++;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bfx_wait_calls(struct vdev_blk_ctx *c, struct bfx_done *done, unsigned n)
{
    double end = now_s() + 10;

    while (done->calls < n) {
        struct pollfd p = { .fd = vdev_blk_ctx_fd(c), .events = POLLIN };

        assert_true(now_s() < end);
        assert_int_equal(vdev_blk_ctx_submit(c), 0);
        poll(&p, 1, 100);
        assert_true(vdev_blk_ctx_event(c) >= 0);
    }
}
