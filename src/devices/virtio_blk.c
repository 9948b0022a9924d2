/* virtio_blk.c — the virtio-blk device (dev_virtio_blk.h): creation on a block
 * backend, features, the configuration space (virtio 1.2, 5.2.4), reset and
 * the state saved for migration. Requests are in virtio_blk_req.c, queues in
 * virtio_blk_queue.c. */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "vdev/log.h"
#include "virtio_blk_internal.h"

#define BIT(n) (1ull << (n))
#define VBLK_RING_FEATURES (BIT(VIRTIO_RING_F_EVENT_IDX) | \
                            BIT(VIRTIO_RING_F_INDIRECT_DESC) | \
                            BIT(VIRTIO_F_RING_PACKED))
#define VBLK_SAVE_MAGIC 0x6b6c6276u     /* "vblk" */
#define VBLK_SAVE_SIZE  8u

static uint64_t vblk_features(void *dev)
{
    return ((struct vblk_dev *)dev)->offered;
}

/* The cache mode after negotiation: writeback unless configured writethrough,
 * and 0 when CONFIG_WCE comes without FLUSH (5.2.5.1). */
static uint8_t initial_wce(const struct vblk_dev *d)
{
    if (vblk_has(d, VIRTIO_BLK_F_CONFIG_WCE) && !vblk_has(d, VIRTIO_BLK_F_FLUSH))
        return 0;
    return d->writethrough ? 0 : 1;
}

/* The transport may pass VIRTIO_F_VERSION_1 back with the rest. */
static int vblk_set_features(void *dev, uint64_t features)
{
    struct vblk_dev *d = dev;

    if (features & ~(d->offered | BIT(VIRTIO_F_VERSION_1)))
        return -EINVAL;
    d->features = features;
    vblk_set_wce(d, initial_wce(d));
    return 0;
}

static uint16_t vblk_num_queues(void *dev)
{
    return ((struct vblk_dev *)dev)->num_queues;
}

static uint8_t log2_u32(uint32_t v)
{
    uint8_t n = 0;

    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

static void fill_config(const struct vblk_dev *d, struct virtio_blk_config *c)
{
    const struct vdev_blk_info *i = &d->info;
    uint32_t min_io = i->min_io_size / i->block_size;

    memset(c, 0, sizeof(*c));
    c->capacity = htole64(d->capacity);
    c->size_max = htole32(d->size_max);
    c->seg_max = htole32(d->seg_max);
    c->blk_size = htole32(i->block_size);
    c->physical_block_exp = log2_u32(i->physical_block_size / i->block_size);
    c->min_io_size = htole16(min_io > UINT16_MAX ? UINT16_MAX : (uint16_t)min_io);
    c->opt_io_size = htole32(i->opt_io_size / i->block_size);
    c->wce = vblk_wce(d);
    c->num_queues = htole16(d->num_queues);
    if (d->offered & BIT(VIRTIO_BLK_F_DISCARD)) {
        c->max_discard_sectors = htole32(VBLK_DWZ_MAX_SECTORS);
        c->max_discard_seg = htole32(VBLK_DWZ_MAX_SEG);
        c->discard_sector_alignment = htole32(i->block_size / VBLK_SECTOR);
    }
    if (d->offered & BIT(VIRTIO_BLK_F_WRITE_ZEROES)) {
        c->max_write_zeroes_sectors = htole32(VBLK_DWZ_MAX_SECTORS);
        c->max_write_zeroes_seg = htole32(VBLK_DWZ_MAX_SEG);
        c->write_zeroes_may_unmap = i->zeroes_may_unmap ? 1 : 0;
    }
}

static int vblk_get_config(void *dev, uint32_t offset, void *buf, uint32_t len)
{
    struct virtio_blk_config c;

    if (offset > sizeof(c) || len > sizeof(c) - offset)
        return -EINVAL;
    fill_config(dev, &c);
    memcpy(buf, (const uint8_t *)&c + offset, len);
    return 0;
}

/* Only wce is writable, and only with CONFIG_WCE (5.2.5). */
static int vblk_set_config(void *dev, uint32_t offset, const void *buf, uint32_t len)
{
    struct vblk_dev *d = dev;
    const uint32_t wce = offsetof(struct virtio_blk_config, wce);
    uint8_t v;

    if (offset > sizeof(struct virtio_blk_config) ||
        len > sizeof(struct virtio_blk_config) - offset)
        return -EINVAL;
    if (len == 0)
        return 0;
    if (offset != wce || len != 1 || !vblk_has(d, VIRTIO_BLK_F_CONFIG_WCE))
        return -EPERM;
    memcpy(&v, buf, 1);
    if (v > 1)
        return -EINVAL;
    vblk_set_wce(d, v);
    return 0;
}

static void vblk_reset(void *dev)
{
    struct vblk_dev *d = dev;

    d->features = 0;
    vblk_set_wce(d, initial_wce(d));
}

/* The cache mode is the only state beyond the rings. */
static int vblk_save(void *dev, void *buf, size_t cap)
{
    struct vblk_dev *d = dev;
    uint32_t words[2] = { htole32(VBLK_SAVE_MAGIC), htole32(vblk_wce(d)) };

    if (!buf || cap < VBLK_SAVE_SIZE)
        return -ENOSPC;
    memcpy(buf, words, VBLK_SAVE_SIZE);
    return VBLK_SAVE_SIZE;
}

static int vblk_load(void *dev, const void *buf, size_t len)
{
    struct vblk_dev *d = dev;
    uint32_t words[2];

    if (!buf || len != VBLK_SAVE_SIZE)
        return -EINVAL;
    memcpy(words, buf, sizeof(words));
    if (le32toh(words[0]) != VBLK_SAVE_MAGIC || le32toh(words[1]) > 1)
        return -EINVAL;
    vblk_set_wce(d, (uint8_t)le32toh(words[1]));
    return 0;
}

static const struct vdev_virtio_ops vblk_ops = {
    .name = "virtio-blk", .device_id = VIRTIO_ID_BLOCK,
    .max_queue_size = VBLK_DEFAULT_QUEUE_SIZE,
    .features = vblk_features, .set_features = vblk_set_features,
    .num_queues = vblk_num_queues, .config_size = sizeof(struct virtio_blk_config),
    .get_config = vblk_get_config, .set_config = vblk_set_config,
    .queue_start = vblk_queue_start, .queue_kick = vblk_queue_kick,
    .queue_poll = vblk_queue_poll, .queue_stop = vblk_queue_stop,
    .reset = vblk_reset, .save = vblk_save, .load = vblk_load,
};

static uint64_t offered_features(const struct vblk_dev *d)
{
    uint64_t f = BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_SIZE_MAX) |
                 BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_TOPOLOGY) |
                 BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_CONFIG_WCE) |
                 BIT(VIRTIO_BLK_F_MQ) | VBLK_RING_FEATURES;

    if (d->read_only)
        return f | BIT(VIRTIO_BLK_F_RO);
    if (d->info.discard)
        f |= BIT(VIRTIO_BLK_F_DISCARD);
    if (d->info.write_zeroes)
        f |= BIT(VIRTIO_BLK_F_WRITE_ZEROES);
    return f;
}

static int config_check(const struct vdev_virtio_blk_config *c)
{
    if (!c || (!c->backend && !c->blk))
        return -EINVAL;
    if (c->num_queues > VDEV_VIRTIO_BLK_MAX_QUEUES || c->queue_size > VDEV_VQ_MAX_SIZE ||
        c->seg_max > VDEV_VIRTIO_BLK_SEG_MAX ||
        (c->size_max != 0 && c->size_max < VBLK_MIN_SIZE_MAX))
        return -EINVAL;
    if (c->serial && strlen(c->serial) > VIRTIO_BLK_ID_BYTES)
        return -EINVAL;
    return 0;
}

static void apply_config(struct vblk_dev *d, const struct vdev_virtio_blk_config *c)
{
    d->num_queues = c->num_queues ? c->num_queues : 1;
    d->ops.max_queue_size = c->queue_size ? c->queue_size : VBLK_DEFAULT_QUEUE_SIZE;
    d->seg_max = c->seg_max ? c->seg_max : VBLK_DEFAULT_SEG_MAX;
    d->size_max = c->size_max ? c->size_max : VBLK_DEFAULT_SIZE_MAX;
    if (c->serial)
        memcpy(d->serial, c->serial, strlen(c->serial));    /* NUL-padded by calloc */
    d->writethrough = c->writethrough;
}

static int open_backend(struct vblk_dev *d, const struct vdev_virtio_blk_config *c)
{
    int ret = 0;

    if (c->blk) {
        d->blk = c->blk;
    } else {
        ret = vdev_blk_open(c->backend, c->read_only, &d->blk);
        if (ret < 0)
            return ret;
        d->own_blk = true;
    }
    d->info = *vdev_blk_get_info(d->blk);
    if (d->info.block_size < VBLK_SECTOR || d->info.block_size % VBLK_SECTOR != 0 ||
        d->info.size % VBLK_SECTOR != 0) {
        vdev_warn("virtio-blk: backend block size %u or size %llu not in 512-byte "
                  "sectors", d->info.block_size, (unsigned long long)d->info.size);
        return -EINVAL;
    }
    d->capacity = d->info.size / VBLK_SECTOR;
    d->read_only = c->read_only || d->info.read_only;
    return 0;
}

VDEV_API int vdev_virtio_blk_new(const struct vdev_virtio_blk_config *c,
                                 struct vdev_virtio_dev **out)
{
    struct vblk_dev *d;
    int ret = config_check(c);

    if (ret < 0 || !out)
        return -EINVAL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->ops = vblk_ops;
    d->dev = (struct vdev_virtio_dev){ .ops = &d->ops, .priv = d };
    apply_config(d, c);
    d->queues = calloc(d->num_queues, sizeof(*d->queues));
    if (!d->queues) {
        free(d);
        return -ENOMEM;
    }
    pthread_mutex_init(&d->lock, NULL);
    ret = open_backend(d, c);
    if (ret < 0) {
        vdev_virtio_blk_free(&d->dev);
        return ret;
    }
    d->offered = offered_features(d);
    vblk_set_wce(d, initial_wce(d));
    *out = &d->dev;
    return 0;
}

VDEV_API void vdev_virtio_blk_free(struct vdev_virtio_dev *dev)
{
    struct vblk_dev *d;

    if (!dev || !dev->ops || dev->ops->queue_start != vblk_queue_start)
        return;
    d = dev->priv;
    if (d->workers)
        vdev_err("virtio-blk: freed with queues still on workers; leaking them");
    if (d->own_blk)
        vdev_blk_close(d->blk);
    pthread_mutex_destroy(&d->lock);
    free(d->queues);
    free(d);
}
