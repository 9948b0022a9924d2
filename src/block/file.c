/* file.c — the file backend: open a regular file or a block device, learn its
 * size, block sizes and what it supports. The I/O is in file_io.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vdev/log.h"
#include "block_internal.h"

static const char *const file_keys[] = { "path", "direct", "ro", NULL };

static bool valid_block_size(uint64_t bs)
{
    return bs >= 512 && bs <= 65536 && (bs & (bs - 1)) == 0;
}

/* What O_DIRECT needs of buffers (mem) and of offsets and lengths (off), from
 * statx when the kernel says; otherwise what every filesystem accepts. -EINVAL
 * when the file says it cannot do direct I/O. */
static int dio_align(int fd, uint32_t *mem, uint32_t *off)
{
    struct statx stx;

    *mem = 4096;
    *off = 512;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) < 0 ||
        !(stx.stx_mask & STATX_DIOALIGN))
        return 0;
    if (stx.stx_dio_offset_align == 0)
        return -EINVAL;
    *mem = stx.stx_dio_mem_align ? stx.stx_dio_mem_align : 1;
    *off = stx.stx_dio_offset_align;
    return 0;
}

/* Punching a hole past the end of the file changes nothing, and says whether
 * the filesystem can. */
static bool can_punch(int fd, const struct stat *st)
{
    off_t end = st->st_size + 4096 - (st->st_size % 4096);

    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, end, 4096) == 0;
}

static int probe_regular(struct vdev_blk *b, const struct stat *st)
{
    uint32_t mem = 1, off = 512;

    if (b->info.direct) {
        if (dio_align(b->fd, &mem, &off) < 0 || !valid_block_size(off < 512 ? 512 : off)) {
            vdev_warn("block: file: the filesystem refuses direct I/O");
            return -EINVAL;
        }
        if (off < 512)
            off = 512;
    }
    b->mem_align = mem;
    b->info.block_size = off;
    b->info.physical_block_size = off;
    b->info.size = (uint64_t)st->st_size & ~((uint64_t)off - 1);
    if (!b->info.read_only) {
        b->info.write_zeroes = true;    /* ZERO_RANGE, else writes of zeroes */
        b->info.discard = can_punch(b->fd, st);
        b->info.zeroes_may_unmap = b->info.discard;
    }
    return 0;
}

/* BLKDISCARD of nothing: -EOPNOTSUPP when the device cannot discard, -EINVAL
 * (the empty range) when it can. */
static bool bdev_can_discard(int fd)
{
    uint64_t range[2] = { 0, 0 };

    return ioctl(fd, BLKDISCARD, range) == 0 || errno != EOPNOTSUPP;
}

static int probe_bdev(struct vdev_blk *b)
{
    uint64_t size;
    int lbs = 0;
    unsigned int pbs = 0, min_io = 0, opt_io = 0;
    uint32_t mem, off;

    if (ioctl(b->fd, BLKGETSIZE64, &size) < 0 || ioctl(b->fd, BLKSSZGET, &lbs) < 0)
        return -errno;
    if (lbs < 512 || !valid_block_size((uint64_t)lbs)) {
        vdev_warn("block: file: logical block size %d not supported", lbs);
        return -EINVAL;
    }
    if (ioctl(b->fd, BLKPBSZGET, &pbs) < 0 || pbs % (unsigned)lbs != 0 ||
        !valid_block_size(pbs))
        pbs = (unsigned)lbs;
    if (ioctl(b->fd, BLKIOMIN, &min_io) < 0)
        min_io = 0;
    if (ioctl(b->fd, BLKIOOPT, &opt_io) < 0)
        opt_io = 0;
    b->is_bdev = true;
    b->mem_align = (uint32_t)lbs;
    if (b->info.direct && dio_align(b->fd, &mem, &off) == 0 && mem > 0)
        b->mem_align = mem;
    b->info.block_size = (uint32_t)lbs;
    b->info.physical_block_size = pbs;
    b->info.min_io_size = min_io;
    b->info.opt_io_size = opt_io;
    b->info.size = size & ~((uint64_t)lbs - 1);
    if (!b->info.read_only) {
        b->info.write_zeroes = true;    /* BLKZEROOUT */
        b->info.discard = bdev_can_discard(b->fd);
    }
    return 0;
}

static int open_fd(const char *path, bool ro, bool direct)
{
    int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0));

    if (fd >= 0)
        return fd;
    fd = -errno;
    if (direct && fd == -EINVAL)
        vdev_warn("block: file: %s: the filesystem refuses O_DIRECT", path);
    else
        vdev_warn("block: file: %s: %s", path, vdev_strerror(fd));
    return fd;
}

static int file_open(struct vdev_blk *b, const struct blk_spec *s, bool read_only)
{
    const char *path = blk_spec_get(s, "path");
    bool direct = false, ro = false;
    struct stat st;
    int ret = blk_spec_check_keys(s, file_keys);

    if (ret < 0)
        return ret;
    if (!path || !*path) {
        vdev_warn("block: file: no path");
        return -EINVAL;
    }
    if ((ret = blk_spec_bool(s, "direct", &direct)) < 0 ||
        (ret = blk_spec_bool(s, "ro", &ro)) < 0)
        return ret;
    b->info.read_only = ro || read_only;
    b->info.direct = direct;
    b->fd = open_fd(path, b->info.read_only, direct);
    if (b->fd < 0)
        return b->fd;
    if (fstat(b->fd, &st) < 0)
        ret = -errno;
    else if (S_ISBLK(st.st_mode))
        ret = probe_bdev(b);
    else if (S_ISREG(st.st_mode))
        ret = probe_regular(b, &st);
    else
        ret = -EINVAL;
    if (ret < 0) {
        if (ret == -EINVAL)
            vdev_warn("block: file: %s: not a regular file or block device, or "
                      "not usable as one", path);
        close(b->fd);
        b->fd = -1;
        return ret;
    }
    vdev_info("block: file %s: %llu bytes, block %u%s%s%s", path,
              (unsigned long long)b->info.size, b->info.block_size,
              b->info.read_only ? ", read-only" : "", direct ? ", direct" : "",
              b->info.discard ? ", discard" : "");
    return 0;
}

static void file_close(struct vdev_blk *b)
{
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
}

const struct blk_driver blk_file_driver = {
    .name = "file",
    .open = file_open,
    .close = file_close,
    .start = blk_file_start,
    .cqe = blk_file_cqe,
};
