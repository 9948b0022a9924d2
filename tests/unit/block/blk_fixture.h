/* blk_fixture.h — what the block layer tests share: a temporary directory on a
 * filesystem that takes O_DIRECT when it can, image files with a known
 * pattern, a callback that counts, and a loop that waits for it. */
#ifndef VDEV_TEST_BLK_FIXTURE_H
#define VDEV_TEST_BLK_FIXTURE_H

#include <sys/uio.h>

#include "helpers.h"
#include "vdev/block.h"

struct bfx {
    int fds_before;
    char dir[256];
    char path[512];               /* the image */
    char spec[1024];
    struct vdev_blk_ctx *ctx;
    struct vdev_blk *blk;
};

/* Counts callbacks and keeps the results in order. */
#define BFX_MAX_DONE 256
struct bfx_done {
    unsigned calls;
    int results[BFX_MAX_DONE];
    int tags[BFX_MAX_DONE];       /* the order they came in, by tag */
};

struct bfx_tag {
    struct bfx_done *done;
    int tag;
};

/* Directory (under /var/tmp, else /tmp), image of size bytes holding
 * bfx_pattern(), a context of entries entries. No backend yet. */
struct bfx *bfx_new(uint64_t size, unsigned entries);
/* Opens "file:path=<image><extra>" (extra: "" or ",direct=on" ...). */
int bfx_open(struct bfx *f, const char *extra, bool read_only);
/* Closes what is open, removes the files, checks no fd leaked. */
void bfx_free(struct bfx *f);

uint8_t bfx_pattern(uint64_t off);
/* Checks the image holds pattern (or zeroes when zero) over [off, off + len). */
void bfx_check_file(struct bfx *f, uint64_t off, uint64_t len, bool zero);
/* Reads the image with pread. */
void bfx_pread(struct bfx *f, void *buf, uint64_t len, uint64_t off);

/* Callback for a struct bfx_tag. */
void bfx_cb(void *opaque, int result);
/* Reaps (waiting) until done->calls reaches n; fails after 10 s. */
void bfx_wait_calls(struct vdev_blk_ctx *c, struct bfx_done *done, unsigned n);

#endif
