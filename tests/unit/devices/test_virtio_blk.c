/* virtio-blk requests through the rings: data lands in the image and reads back;
 * every malformed request gets its status (or used length 0), one log line, and
 * the next good request still works. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../block/blk_gate.h"
#include "vblk_harness.h"
#include "vdev/dirty.h"
#include "vdev/log.h"

#define CAPACITY ((1u << 20) / 512)

/* Counts WARN lines (every bad request logs one) and keeps the last. */
static unsigned warnings;
static char last_warning[512];

static void count_log(enum vdev_log_level level, const char *line, void *opaque)
{
    if (level <= VDEV_LOG_WARN) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", line);
    }
}

/* The last request logged one line, giving why. */
#define assert_warned(before, why) do { \
        assert_int_equal(warnings, (before) + 1); \
        if (!strstr(last_warning, (why))) \
            fail_msg("logged \"%s\", not why: %s", last_warning, (why)); \
    } while (0)

static int setup(void **state)
{
    vdev_log_set_handler(count_log, NULL);
    warnings = 0;
    *state = vh_new(&(struct vh_opts){ .serial = "vdev-serial-0001" });
    return 0;
}

static int setup_packed(void **state)
{
    vdev_log_set_handler(count_log, NULL);
    warnings = 0;
    *state = vh_new(&(struct vh_opts){ .packed = true, .indirect = true,
                                       .event_idx = true, .ring = 32 });
    return 0;
}

static int teardown(void **state)
{
    vh_free(*state);
    vdev_log_set_handler(NULL, NULL);
    return 0;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 31);
}

/* A write lands in the image at sector * 512, the rest of the image is
 * untouched, and a read returns it with used length data + status. The driver
 * is notified. */
static void test_write_then_read(void **state)
{
    struct vh *h = *state;
    uint8_t data[8192], back[8192];

    fill(data, sizeof(data), 3);
    vh_write(h, 0, 16, data, sizeof(data));
    {
        uint8_t file[8192];

        vh_pread(h, file, sizeof(file), 16 * 512);
        assert_memory_equal(file, data, sizeof(data));
    }
    vh_check_image(h, 0, 16 * 512, false);
    vh_check_image(h, 16 * 512 + sizeof(data), 4096, false);
    vh_read(h, 0, 16, back, sizeof(back));
    assert_memory_equal(back, data, sizeof(back));
    vh_read(h, 0, 100, back, 512);
    for (int i = 0; i < 512; i++)
        assert_int_equal(back[i], vh_pattern(100 * 512 + i));
    assert_true(fx_calls(h->fx, 0) > 0);
    assert_int_equal(warnings, 0);
}

/* The same on a packed ring with indirect descriptors and event index. */
static void test_packed_ring(void **state)
{
    test_write_then_read(state);
}

/* Framing is by bytes (2.6.4): header and data in one readable buffer, the
 * header split over two, data and status in one writable buffer. */
static void test_any_layout(void **state)
{
    struct vh *h = *state;
    uint64_t buf = vh_alloc(h, 16 + 1024), hdr = vh_hdr(h, VIRTIO_BLK_T_IN, 2);
    uint64_t in = vh_alloc(h, 512 + 1);
    struct virtio_blk_outhdr oh = { htole32(VIRTIO_BLK_T_OUT), 0, htole64(4) };
    uint8_t *p = vh_host(h, buf), back[1024];
    uint16_t id;

    memcpy(p, &oh, sizeof(oh));
    fill(p + 16, 1024, 7);
    id = vh_add(h, 0, &(struct vdev_vqd_buf){ buf, 16 + 1024 }, 1,
                &(struct vdev_vqd_buf){ vh_alloc(h, 1), 1 }, 1);
    vh_kick(h, 0);
    assert_int_equal(vh_wait(h, 0, id), 1);
    vh_read(h, 0, 4, back, sizeof(back));
    assert_memory_equal(back, p + 16, sizeof(back));

    /* Header in two pieces; data and status share one writable buffer. */
    id = vh_add(h, 0, (struct vdev_vqd_buf[]){ { hdr, 8 }, { hdr + 8, 8 } }, 2,
                &(struct vdev_vqd_buf){ in, 513 }, 1);
    vh_kick(h, 0);
    assert_int_equal(vh_wait(h, 0, id), 513);
    assert_int_equal(((uint8_t *)vh_host(h, in))[512], VIRTIO_BLK_S_OK);
    for (int i = 0; i < 512; i++)
        assert_int_equal(((uint8_t *)vh_host(h, in))[i], vh_pattern(2 * 512 + i));
    assert_int_equal(warnings, 0);
}

/* GET_ID returns the serial, NUL-padded to 20 bytes; a shorter buffer gets
 * what fits. */
static void test_get_id(void **state)
{
    struct vh *h = *state;
    uint64_t id20 = vh_alloc(h, 20), id8 = vh_alloc(h, 8);
    char want[20] = "vdev-serial-0001";
    uint32_t used;

    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_GET_ID, 0, id20, 20, true, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, 21);
    assert_memory_equal(vh_host(h, id20), want, 20);
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_GET_ID, 0, id8, 8, true, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, 9);
    assert_memory_equal(vh_host(h, id8), want, 8);
}

/* A good read after a bad request: the queue serves on. */
static void serves_on(struct vh *h)
{
    uint8_t back[512];

    vh_read(h, 0, 1, back, sizeof(back));
    assert_int_equal(back[0], vh_pattern(512));
}

/* Reads and writes past the end of the disk, or that wrap, are IOERR; nothing
 * is written. */
static void test_past_end(void **state)
{
    struct vh *h = *state;
    uint64_t data = vh_alloc(h, 1024);
    static const uint64_t sectors[] = { CAPACITY - 1, CAPACITY, UINT64_MAX,
                                        UINT64_MAX / 512, (1ull << 55) };
    uint32_t used;

    memset(vh_host(h, data), 0x55, 1024);
    for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
        unsigned before = warnings;

        assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_IN, sectors[i], data, 1024, true, &used),
                         VIRTIO_BLK_S_IOERR);
        assert_int_equal(used, 1);
        assert_warned(before, "past the end");
        assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_OUT, sectors[i], data, 1024, false,
                               &used), VIRTIO_BLK_S_IOERR);
        assert_warned(before + 1, "past the end");
    }
    vh_check_image(h, (CAPACITY - 2) * 512, 1024, false);
    /* The last sector itself is inside. */
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_IN, CAPACITY - 1, data, 512, true, &used),
                     VIRTIO_BLK_S_OK);
    serves_on(h);
}

/* A header shorter than 16 bytes is IOERR. */
static void test_short_header(void **state)
{
    struct vh *h = *state;
    uint64_t hdr = vh_hdr(h, VIRTIO_BLK_T_IN, 0), st = vh_alloc(h, 1);
    uint16_t id;

    *(uint8_t *)vh_host(h, st) = 0xff;
    id = vh_add(h, 0, &(struct vdev_vqd_buf){ hdr, 12 }, 1,
                &(struct vdev_vqd_buf){ st, 1 }, 1);
    vh_kick(h, 0);
    assert_int_equal(vh_wait(h, 0, id), 1);
    assert_int_equal(*(uint8_t *)vh_host(h, st), VIRTIO_BLK_S_IOERR);
    assert_warned(0, "header shorter than 16 bytes");
    serves_on(h);
}

/* No writable byte: nowhere to put a status, so the request comes back with
 * used length 0; so does one whose status buffer is empty. */
static void test_no_status(void **state)
{
    struct vh *h = *state;
    uint64_t hdr = vh_hdr(h, VIRTIO_BLK_T_IN, 0), data = vh_alloc(h, 512);
    uint16_t id;

    id = vh_add(h, 0, (struct vdev_vqd_buf[]){ { hdr, 16 }, { data, 512 } }, 2, NULL, 0);
    vh_kick(h, 0);
    assert_int_equal(vh_wait(h, 0, id), 0);
    assert_warned(0, "without a writable status byte");
    id = vh_add(h, 0, &(struct vdev_vqd_buf){ hdr, 16 }, 1,
                &(struct vdev_vqd_buf){ data, 0 }, 1);
    vh_kick(h, 0);
    assert_int_equal(vh_wait(h, 0, id), 0);
    assert_warned(1, "without a writable status byte");
    serves_on(h);
}

/* Data that is not a multiple of 512 bytes is IOERR, and a write of it writes
 * nothing. */
static void test_odd_length(void **state)
{
    struct vh *h = *state;
    uint64_t data = vh_alloc(h, 1000);
    uint32_t used;

    memset(vh_host(h, data), 0x77, 1000);
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_IN, 0, data, 100, true, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_warned(0, "multiple of 512");
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_OUT, 0, data, 1000, false, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_warned(1, "multiple of 512");
    vh_check_image(h, 0, 4096, false);
    serves_on(h);
}

/* Types the device does not know are UNSUPP. */
static void test_unknown_type(void **state)
{
    struct vh *h = *state;
    static const uint32_t types[] = { 2, 3, 5, 10, 14, 16, 0x80000000u, 0x80000001u };
    uint64_t data = vh_alloc(h, 512);

    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        assert_int_equal(vh_io(h, 0, types[i], 0, data, 512, true, NULL),
                         VIRTIO_BLK_S_UNSUPP);
        assert_warned(i, "unknown type");
    }
    serves_on(h);
}

/* A flush on a file completes OK. */
static void test_flush(void **state)
{
    struct vh *h = *state;
    uint32_t used;

    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
}

/* Discard: two ranges are punched (they read as zeroes on a file), the rest
 * keeps its data. */
static void test_discard(void **state)
{
    struct vh *h = *state;
    struct virtio_blk_discard_write_zeroes r[2] = { vh_range(8, 8, 0), vh_range(64, 32, 0) };

    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, r, 2), VIRTIO_BLK_S_OK);
    vh_check_image(h, 0, 8 * 512, false);
    vh_check_image(h, 8 * 512, 8 * 512, true);
    vh_check_image(h, 16 * 512, 48 * 512, false);
    vh_check_image(h, 64 * 512, 32 * 512, true);
    vh_check_image(h, 96 * 512, 4096, false);
    assert_int_equal(warnings, 0);
}

/* Discards the device must refuse: UNMAP or reserved flags (UNSUPP), a range
 * too long, too many ranges, a list that is not whole ranges, a range past the
 * end (IOERR). None of them touches the image. */
static void test_discard_refused(void **state)
{
    struct vh *h = *state;
    struct virtio_blk_discard_write_zeroes many[33];
    struct virtio_blk_discard_write_zeroes r;
    uint64_t list;

    r = vh_range(0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_UNSUPP);
    assert_warned(0, "unmap flag on a discard");
    r = vh_range(0, 8, 0x4);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_UNSUPP);
    assert_warned(1, "reserved flags");
    r = vh_range(CAPACITY - 4, 8, 0);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_IOERR);
    assert_warned(2, "past the end");
    r = vh_range(UINT64_MAX - 3, 8, 0);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_IOERR);
    assert_warned(3, "past the end");
    for (unsigned i = 0; i < 33; i++)
        many[i] = vh_range(i * 8, 8, 0);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, many, 33), VIRTIO_BLK_S_IOERR);
    assert_warned(4, "more ranges");
    /* A good range before a bad one: nothing is done at all. */
    many[1] = vh_range(8, 8, 0x2);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, many, 2), VIRTIO_BLK_S_UNSUPP);
    assert_warned(5, "reserved flags");

    /* 20 bytes of list, and none at all. */
    list = vh_alloc(h, 20);
    memcpy(vh_host(h, list), &many[0], 16);
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_DISCARD, 0, list, 20, false, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_warned(6, "multiple of 16");
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_DISCARD, 0, list, 0, false, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_warned(7, "multiple of 16");
    vh_check_image(h, 0, 1u << 20, false);
    serves_on(h);
}

/* Write-zeroes zeroes its ranges, with or without UNMAP; a reserved flag is
 * UNSUPP. */
static void test_write_zeroes(void **state)
{
    struct vh *h = *state;
    struct virtio_blk_discard_write_zeroes r[2] = {
        vh_range(3, 5, 0), vh_range(40, 24, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
    };

    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_WRITE_ZEROES, r, 2), VIRTIO_BLK_S_OK);
    vh_check_image(h, 0, 3 * 512, false);
    vh_check_image(h, 3 * 512, 5 * 512, true);
    vh_check_image(h, 8 * 512, 32 * 512, false);
    vh_check_image(h, 40 * 512, 24 * 512, true);
    vh_check_image(h, 64 * 512, 4096, false);
    r[0] = vh_range(100, 8, 0x80000000u);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_WRITE_ZEROES, r, 1), VIRTIO_BLK_S_UNSUPP);
    vh_check_image(h, 100 * 512, 8 * 512, false);
    assert_warned(0, "reserved flags");
}

/* Without DISCARD and WRITE_ZEROES negotiated, those requests are UNSUPP. */
static void test_ranges_not_negotiated(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){
        .clear_features = (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES),
    });
    struct virtio_blk_discard_write_zeroes r = vh_range(0, 8, 0);

    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_WRITE_ZEROES, &r, 1),
                     VIRTIO_BLK_S_UNSUPP);
    vh_check_image(h, 0, 4096, false);
    vh_free(h);
}

/* A read-only disk: writes, discards and write-zeroes are IOERR and write
 * nothing; reads work. */
static void test_read_only(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .read_only = true });
    uint64_t data = vh_alloc(h, 512);
    struct virtio_blk_discard_write_zeroes r = vh_range(0, 8, 0);
    uint32_t used;

    assert_true(h->features & (1ull << VIRTIO_BLK_F_RO));
    memset(vh_host(h, data), 0x11, 512);
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_OUT, 0, data, 512, false, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    /* Not offered on a read-only disk: UNSUPP like any request not negotiated. */
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_WRITE_ZEROES, &r, 1),
                     VIRTIO_BLK_S_UNSUPP);
    vh_check_image(h, 0, 4096, false);
    serves_on(h);
    vh_free(h);
}

/* seg_max bounds the data segments: seg_max of them is fine, one more is IOERR,
 * and a request with more segments than the device has iovecs for is IOERR
 * too. */
static void test_seg_max(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .seg_max = 4, .ring = 128 });
    struct vdev_vqd_buf in[80];
    uint64_t hdr = vh_hdr(h, VIRTIO_BLK_T_IN, 0);
    uint16_t id;

    vdev_log_set_handler(count_log, NULL);
    warnings = 0;
    for (unsigned n = 4; n <= 5; n++) {
        for (unsigned i = 0; i < n; i++)
            in[i] = (struct vdev_vqd_buf){ vh_alloc(h, 512), 512 };
        in[n] = (struct vdev_vqd_buf){ vh_alloc(h, 1), 1 };
        id = vh_add(h, 0, &(struct vdev_vqd_buf){ hdr, 16 }, 1, in, n + 1);
        vh_kick(h, 0);
        assert_int_equal(vh_wait(h, 0, id), n == 4 ? 4 * 512 + 1 : 1);
        assert_int_equal(*(uint8_t *)vh_host(h, in[n].gpa),
                         n == 4 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
    }
    assert_warned(0, "seg_max");
    for (unsigned i = 0; i < 79; i++)
        in[i] = (struct vdev_vqd_buf){ vh_alloc(h, 512), 512 };
    in[79] = (struct vdev_vqd_buf){ vh_alloc(h, 1), 1 };
    id = vh_add(h, 0, &(struct vdev_vqd_buf){ hdr, 16 }, 1, in, 80);
    vh_kick(h, 0);
    assert_int_equal(vh_wait(h, 0, id), 1);
    assert_int_equal(*(uint8_t *)vh_host(h, in[79].gpa), VIRTIO_BLK_S_IOERR);
    assert_warned(1, "seg_max");
    serves_on(h);
    vh_free(h);
    vdev_log_set_handler(NULL, NULL);
}

/* A 4096-byte block backend: requests not aligned to blk_size are IOERR;
 * aligned ones work. */
static void test_block_alignment(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .spec = "null:size=1M,bs=4096" });
    uint64_t data = vh_alloc(h, 8192);
    struct virtio_blk_discard_write_zeroes r = vh_range(1, 8, 0);

    vdev_log_set_handler(count_log, NULL);
    warnings = 0;
    assert_int_equal(vh_config(h).blk_size, htole32(4096));
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_IN, 1, data, 4096, true, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_warned(0, "not aligned");
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_IN, 8, data, 512, true, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_warned(1, "not aligned");
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_IN, 8, data, 8192, true, NULL),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_IOERR);
    assert_warned(2, "not aligned");
    r = vh_range(8, 8, 0);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_OK);
    vh_free(h);
    vdev_log_set_handler(NULL, NULL);
}

/* Ranges longer than max_discard_sectors / max_write_zeroes_sectors are IOERR,
 * on a disk big enough to hold them; the longest allowed one is done. */
static void test_range_too_long(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ .spec = "null:size=4G" });
    struct virtio_blk_discard_write_zeroes r = vh_range(0, (1u << 22) + 8, 0);

    vdev_log_set_handler(count_log, NULL);
    warnings = 0;
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_IOERR);
    assert_warned(0, "longer than max");
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_WRITE_ZEROES, &r, 1), VIRTIO_BLK_S_IOERR);
    assert_warned(1, "longer than max");
    r = vh_range(8, 1u << 22, 0);
    assert_int_equal(vh_ranges(h, 0, VIRTIO_BLK_T_WRITE_ZEROES, &r, 1), VIRTIO_BLK_S_OK);
    vh_free(h);
    vdev_log_set_handler(NULL, NULL);
}

/* The device's own read-only flag holds even over a writable backend: nothing
 * reaches it. */
static void test_read_only_over_writable(void **state)
{
    struct blk_gate g;
    struct vdev_blk *b;
    struct vh *h;
    uint64_t data;

    blk_gate_new(&g, 1 << 20, &b);
    h = vh_new(&(struct vh_opts){ .blk = b, .read_only = true });
    vdev_log_set_handler(count_log, NULL);
    warnings = 0;
    data = vh_alloc(h, 512);
    assert_int_equal(vh_io(h, 0, VIRTIO_BLK_T_OUT, 0, data, 512, false, NULL),
                     VIRTIO_BLK_S_IOERR);
    assert_warned(0, "read-only");
    assert_int_equal(g.nheld, 0);
    vh_free(h);
    vdev_blk_close(b);
    vdev_log_set_handler(NULL, NULL);
}

/* With a dirty log, the status byte's page is marked even when only the status
 * is written (an error), not just the first writable bytes. */
static void test_status_marked_dirty(void **state)
{
    struct vh *h = vh_new(&(struct vh_opts){ 0 });
    struct vdev_dirty_range range = { FX_GPA_BASE, h->fx->mem_size & ~4095ull };
    struct vdev_dirty *log;
    uint64_t data = vh_alloc(h, 4096), st = vh_alloc(h, 4096);
    struct vdev_vqd_buf in[2] = { { data, 4096 }, { st, 1 } };
    uint8_t bits = 0;
    uint16_t id;

    assert_int_equal(vdev_dirty_new(&range, 1, &log), 0);
    vdev_mem_set_dirty_log(h->fx->mem, log);
    id = vh_add(h, 0, &(struct vdev_vqd_buf){ vh_hdr(h, VIRTIO_BLK_T_IN, CAPACITY), 16 }, 1,
                in, 2);
    vh_kick(h, 0);
    assert_int_equal(vh_wait(h, 0, id), 1);
    assert_int_equal(*(uint8_t *)vh_host(h, st), VIRTIO_BLK_S_IOERR);
    assert_int_equal(vdev_dirty_report(log, st, 4096, 4096, false, &bits, 1), 0);
    assert_int_equal(bits & 1, 1);
    vdev_mem_set_dirty_log(h->fx->mem, NULL);
    vdev_dirty_free(log);
    vh_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_then_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_ring, setup_packed, teardown),
        cmocka_unit_test_setup_teardown(test_any_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_past_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
        cmocka_unit_test(test_ranges_not_negotiated),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_seg_max),
        cmocka_unit_test(test_block_alignment),
        cmocka_unit_test(test_range_too_long),
        cmocka_unit_test(test_read_only_over_writable),
        cmocka_unit_test(test_status_marked_dirty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
