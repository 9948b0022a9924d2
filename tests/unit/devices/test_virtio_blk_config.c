/* virtio-blk as the transport sees it before any request: creation, features,
 * the configuration space (5.2.4) and its one writable byte, the cache mode a
 * write gets, reset, save and load. */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "../block/blk_gate.h"
#include "vblk_harness.h"

#define BIT(n) (1ull << (n))
#define DEVICE_BITS (BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_SIZE_MAX) | \
                     BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_TOPOLOGY) | \
                     BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_CONFIG_WCE) | \
                     BIT(VIRTIO_BLK_F_MQ))
#define RING_BITS (BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC) | \
                   BIT(VIRTIO_F_RING_PACKED))

static int new_dev(const struct vdev_virtio_blk_config *c)
{
    struct vdev_virtio_dev *d = NULL;
    int ret = vdev_virtio_blk_new(c, &d);

    if (ret == 0)
        vdev_virtio_blk_free(d);
    else
        assert_null(d);
    return ret;
}

/* What the device refuses to be created with. */
static void test_new_refuses(void **state)
{
    int before = test_count_fds();

    assert_int_equal(vdev_virtio_blk_new(NULL, NULL), -EINVAL);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){ 0 }), -EINVAL);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){
        .backend = "null", .serial = "123456789012345678901" }), -EINVAL);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){
        .backend = "null", .serial = "12345678901234567890" }), 0);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){
        .backend = "null", .num_queues = VDEV_VIRTIO_BLK_MAX_QUEUES + 1 }), -EINVAL);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){
        .backend = "null", .seg_max = VDEV_VIRTIO_BLK_SEG_MAX + 1 }), -EINVAL);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){
        .backend = "null", .queue_size = 40000 }), -EINVAL);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){
        .backend = "null", .size_max = 100 }), -EINVAL);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){ .backend = "null:bs=3" }),
                     -EINVAL);
    assert_int_equal(new_dev(&(struct vdev_virtio_blk_config){
        .backend = "file:path=/nonexistent/disk.img" }), -ENOENT);
    assert_no_fd_leak(before);
}

/* The ops: block device id, the configuration size of <linux/virtio_blk.h>, the
 * queue size and queue count asked for. */
static void test_ops(void **state)
{
    struct vdev_virtio_dev *d;

    assert_int_equal(vdev_virtio_blk_new(&(struct vdev_virtio_blk_config){
        .backend = "null", .num_queues = 4, .queue_size = 512 }, &d), 0);
    assert_string_equal(d->ops->name, "virtio-blk");
    assert_int_equal(d->ops->device_id, VIRTIO_ID_BLOCK);
    assert_int_equal(d->ops->config_size, sizeof(struct virtio_blk_config));
    assert_int_equal(d->ops->max_queue_size, 512);
    assert_int_equal(d->ops->num_queues(d->priv), 4);
    assert_non_null(d->ops->queue_poll);
    vdev_virtio_blk_free(d);
}

/* The offered features: the device's own, discard and write-zeroes when the
 * backend can, RO instead of them when read-only, and the ring features. Bits
 * not offered are refused; VERSION_1 is accepted. */
static void test_features(void **state)
{
    struct vdev_virtio_dev *d;
    uint64_t f;

    assert_int_equal(vdev_virtio_blk_new(&(struct vdev_virtio_blk_config){
        .backend = "null" }, &d), 0);
    f = d->ops->features(d->priv);
    assert_int_equal(f, DEVICE_BITS | RING_BITS | BIT(VIRTIO_BLK_F_DISCARD) |
                        BIT(VIRTIO_BLK_F_WRITE_ZEROES));
    assert_int_equal(d->ops->set_features(d->priv, f | BIT(VIRTIO_F_VERSION_1)), 0);
    assert_int_equal(d->ops->set_features(d->priv, f | BIT(VIRTIO_BLK_F_GEOMETRY)),
                     -EINVAL);
    assert_int_equal(d->ops->set_features(d->priv, BIT(VIRTIO_BLK_F_SECURE_ERASE)),
                     -EINVAL);
    vdev_virtio_blk_free(d);

    assert_int_equal(vdev_virtio_blk_new(&(struct vdev_virtio_blk_config){
        .backend = "null", .read_only = true }, &d), 0);
    assert_int_equal(d->ops->features(d->priv), DEVICE_BITS | RING_BITS |
                                                BIT(VIRTIO_BLK_F_RO));
    vdev_virtio_blk_free(d);
}

/* Every field of the configuration space, little-endian, and reads of a part. */
static void test_config_space(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .image_size = 3u << 20, .seg_max = 60,
                                             .num_queues = 2 });
    struct virtio_blk_config c = vh_config(h), zero;
    uint8_t part[4];

    assert_int_equal(le64toh(c.capacity), (3u << 20) / 512);
    assert_int_equal(le32toh(c.size_max), 1u << 20);
    assert_int_equal(le32toh(c.seg_max), 60);
    assert_int_equal(le32toh(c.blk_size), 512);
    assert_int_equal(c.physical_block_exp, 0);
    assert_int_equal(c.alignment_offset, 0);
    assert_int_equal(c.wce, 1);
    assert_int_equal(c.unused, 0);
    assert_int_equal(le16toh(c.num_queues), 2);
    assert_int_equal(le32toh(c.max_discard_sectors), 1u << 22);
    assert_int_equal(le32toh(c.max_discard_seg), 32);
    assert_int_equal(le32toh(c.discard_sector_alignment), 1);
    assert_int_equal(le32toh(c.max_write_zeroes_sectors), 1u << 22);
    assert_int_equal(le32toh(c.max_write_zeroes_seg), 32);
    assert_int_equal(c.write_zeroes_may_unmap, 1);      /* punch hole on a file */
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(c.unused1, zero.unused1, sizeof(c.unused1));
    assert_int_equal(c.max_secure_erase_sectors, 0);
    assert_int_equal(c.geometry.cylinders, 0);

    assert_int_equal(h->ops->get_config(h->dev->priv, 8, part, 4), 0);
    assert_memory_equal(part, &c.size_max, 4);
    assert_int_equal(h->ops->get_config(h->dev->priv, sizeof(c) - 4, part, 4), 0);
    assert_int_equal(h->ops->get_config(h->dev->priv, sizeof(c) - 3, part, 4), -EINVAL);
    assert_int_equal(h->ops->get_config(h->dev->priv, UINT32_MAX, part, 4), -EINVAL);
    vh_free(h);
}

/* Topology from a 4096-byte block backend, and seg_max's default. */
static void test_config_4k(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .spec = "null:size=64M,bs=4096" });
    struct virtio_blk_config c = vh_config(h);

    assert_int_equal(le64toh(c.capacity), (64u << 20) / 512);
    assert_int_equal(le32toh(c.blk_size), 4096);
    assert_int_equal(le32toh(c.seg_max), 126);
    assert_int_equal(le32toh(c.discard_sector_alignment), 8);
    assert_int_equal(c.write_zeroes_may_unmap, 0);
    vh_free(h);
}

/* wce is the only writable byte, only with CONFIG_WCE, only 0 or 1. */
static void test_wce_writes(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .no_start = true });
    void *d = h->dev->priv;
    const uint32_t wce = offsetof(struct virtio_blk_config, wce);
    uint8_t zero = 0, one = 1, two = 2;
    uint64_t cap = 5;

    assert_int_equal(h->ops->set_config(d, wce, &zero, 1), 0);
    assert_int_equal(vh_config(h).wce, 0);
    assert_int_equal(h->ops->set_config(d, wce, &one, 1), 0);
    assert_int_equal(vh_config(h).wce, 1);
    assert_int_equal(h->ops->set_config(d, wce, &two, 1), -EINVAL);
    assert_int_equal(h->ops->set_config(d, 0, &cap, 8), -EPERM);
    assert_int_equal(h->ops->set_config(d, wce - 1, &cap, 2), -EPERM);
    assert_int_equal(h->ops->set_config(d, wce + 1, &zero, 1), -EPERM);
    assert_int_equal(le64toh(vh_config(h).capacity), (1u << 20) / 512);

    assert_int_equal(h->ops->set_features(d, h->features & ~BIT(VIRTIO_BLK_F_CONFIG_WCE)),
                     0);
    assert_int_equal(h->ops->set_config(d, wce, &zero, 1), -EPERM);
    /* CONFIG_WCE without FLUSH starts writethrough (5.2.5.1). */
    assert_int_equal(h->ops->set_features(d, h->features & ~BIT(VIRTIO_BLK_F_FLUSH)), 0);
    assert_int_equal(vh_config(h).wce, 0);
    /* Reset: back to the configured mode, writeback. */
    h->ops->reset(d);
    assert_int_equal(vh_config(h).wce, 1);
    vh_free(h);
}

/* The cache mode decides whether a write must be durable on completion: seen
 * as the FUA flag on the block request. */
static void test_cache_mode_reaches_writes(void **state)
{
    static const struct { bool clear_wce, clear_flush; uint8_t wce; bool fua; } cases[] = {
        { false, false, 1, false },     /* writeback */
        { false, false, 0, true },      /* driver chose writethrough */
        { true, false, 1, false },      /* FLUSH only: writeback */
        { true, true, 1, true },        /* neither: writethrough (5.2.6.2) */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct blk_gate g;
        struct vdev_blk *b;
        struct vh *h;
        uint64_t data, st;
        uint16_t id;

        blk_gate_new(&g, 1 << 20, &b);
        h = vh_new(&(struct vh_opts){
            .blk = b, .clear_features = (cases[i].clear_wce ? BIT(VIRTIO_BLK_F_CONFIG_WCE) : 0) |
                                        (cases[i].clear_flush ? BIT(VIRTIO_BLK_F_FLUSH) : 0),
            .no_start = true });
        if (!cases[i].clear_wce)
            assert_int_equal(h->ops->set_config(h->dev->priv,
                                                offsetof(struct virtio_blk_config, wce),
                                                &cases[i].wce, 1), 0);
        vh_start(h, 0);
        data = vh_alloc(h, 512);
        st = vh_alloc(h, 1);
        id = vh_add(h, 0, (struct vdev_vqd_buf[]){ { vh_hdr(h, VIRTIO_BLK_T_OUT, 0), 16 },
                                                   { data, 512 } }, 2,
                    &(struct vdev_vqd_buf){ st, 1 }, 1);
        vh_kick(h, 0);
        assert_int_equal(g.nheld, 1);
        assert_int_equal(!!(g.flags[0] & VDEV_BLK_FUA), cases[i].fua);
        blk_gate_release_all(&g);
        assert_int_equal(vh_wait(h, 0, id), 1);
        vh_free(h);
        vdev_blk_close(b);
    }
}

/* save and load carry the cache mode; load refuses what save did not make. */
static void test_save_load(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .no_start = true });
    void *d = h->dev->priv;
    uint8_t zero = 0, buf[16], bad[8] = { 0 };
    int n;

    assert_int_equal(h->ops->set_config(d, offsetof(struct virtio_blk_config, wce),
                                        &zero, 1), 0);
    assert_int_equal(h->ops->save(d, buf, 4), -ENOSPC);
    n = h->ops->save(d, buf, sizeof(buf));
    assert_true(n > 0);
    h->ops->reset(d);
    assert_int_equal(vh_config(h).wce, 1);
    assert_int_equal(h->ops->load(d, bad, sizeof(bad)), -EINVAL);
    assert_int_equal(h->ops->load(d, buf, (size_t)n - 1), -EINVAL);
    assert_int_equal(h->ops->load(d, buf, (size_t)n), 0);
    assert_int_equal(vh_config(h).wce, 0);
    vh_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_refuses),
        cmocka_unit_test(test_ops),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_config_space),
        cmocka_unit_test(test_config_4k),
        cmocka_unit_test(test_wce_writes),
        cmocka_unit_test(test_cache_mode_reaches_writes),
        cmocka_unit_test(test_save_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
