/* Backend specs: drivers, options, sizes, escapes, and what open refuses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blk_fixture.h"
#include "block/block_internal.h"

/* A null spec with options gives a backend of that size and block size. */
static void test_null_options(void **state)
{
    struct vdev_blk *b;
    const struct vdev_blk_info *i;

    assert_int_equal(vdev_blk_open("null:size=64M,bs=4096", false, &b), 0);
    i = vdev_blk_get_info(b);
    assert_int_equal(i->size, 64ull << 20);
    assert_int_equal(i->block_size, 4096);
    assert_false(i->read_only);
    assert_true(i->discard);
    assert_true(i->write_zeroes);
    assert_string_equal(vdev_blk_driver(b), "null");
    vdev_blk_close(b);

    assert_int_equal(vdev_blk_open("null", false, &b), 0);
    assert_int_equal(vdev_blk_get_info(b)->size, 1ull << 30);
    assert_int_equal(vdev_blk_get_info(b)->block_size, 512);
    vdev_blk_close(b);
}

/* ro=on and the read_only argument both make a read-only backend that offers
 * neither discard nor write-zeroes. */
static void test_read_only(void **state)
{
    struct vdev_blk *b;

    assert_int_equal(vdev_blk_open("null:ro=on", false, &b), 0);
    assert_true(vdev_blk_get_info(b)->read_only);
    assert_false(vdev_blk_get_info(b)->discard);
    vdev_blk_close(b);
    assert_int_equal(vdev_blk_open("null:ro=off", true, &b), 0);
    assert_true(vdev_blk_get_info(b)->read_only);
    assert_false(vdev_blk_get_info(b)->write_zeroes);
    vdev_blk_close(b);
}

/* Every malformed spec is refused with -EINVAL and opens nothing. */
static void test_bad_specs(void **state)
{
    static const char *const bad[] = {
        "", ":size=1G", "nope", "nope:size=1G", "null:size", "null:=1",
        "null:size=1G,", "null:size=1G,size=2G", "null:colour=blue",
        "null:size=1000", "null:bs=1000", "null:bs=256", "null:bs=131072",
        "null:size=12X", "null:size=", "null:size=99999999999999999999",
        "null:size=99999999999T", "null:ro=maybe", "file", "file:direct=on",
        "file:path=", "file:path=/dev/null", "averyveryverylongdrivername:x=1",
    };
    int before = test_count_fds();

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vdev_blk *b = NULL;
        int ret = vdev_blk_open(bad[i], false, &b);

        if (ret != -EINVAL)
            fail_msg("spec \"%s\": %d, not -EINVAL", bad[i], ret);
        assert_null(b);
    }
    assert_no_fd_leak(before);
}

/* Sizes take K, M, G and T, in powers of 1024, and nothing else. */
static void test_sizes(void **state)
{
    uint64_t v;

    assert_int_equal(blk_spec_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(blk_spec_size("4K", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(blk_spec_size("3m", &v), 0);
    assert_int_equal(v, 3ull << 20);
    assert_int_equal(blk_spec_size("2G", &v), 0);
    assert_int_equal(v, 2ull << 30);
    assert_int_equal(blk_spec_size("16T", &v), 0);
    assert_int_equal(v, 16ull << 40);
    assert_int_equal(blk_spec_size("18446744073709551615", &v), 0);
    assert_int_equal(v, UINT64_MAX);
    assert_int_equal(blk_spec_size("18446744073709551616", &v), -EINVAL);
    assert_int_equal(blk_spec_size("16777216T", &v), -EINVAL);
    assert_int_equal(blk_spec_size("1KB", &v), -EINVAL);
    assert_int_equal(blk_spec_size("-1", &v), -EINVAL);
    assert_int_equal(blk_spec_size("", &v), -EINVAL);
}

/* ",," in a value is a comma: a path with a comma opens. */
static void test_comma_escape(void **state)
{
    struct bfx *f = bfx_new(8192, 0);
    char path[1024], spec[2048];
    struct blk_spec s;

    snprintf(path, sizeof(path), "%s/a,b.img", f->dir);
    assert_int_equal(rename(f->path, path), 0);
    snprintf(spec, sizeof(spec), "file:path=%s/a,,b.img,ro=on", f->dir);
    assert_int_equal(vdev_blk_open(spec, false, &f->blk), 0);
    assert_int_equal(vdev_blk_get_info(f->blk)->size, 8192);
    assert_true(vdev_blk_get_info(f->blk)->read_only);
    assert_int_equal(rename(path, f->path), 0);

    assert_int_equal(blk_spec_parse("x:a=1,,,,2,b=,,", &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(blk_spec_get(&s, "a"), "1,,2");
    assert_string_equal(blk_spec_get(&s, "b"), ",");
    assert_null(blk_spec_get(&s, "c"));
    blk_spec_free(&s);
    bfx_free(f);
}

/* A file that is not there is the error of open(2). */
static void test_missing_file(void **state)
{
    struct vdev_blk *b = NULL;

    assert_int_equal(vdev_blk_open("file:path=/nonexistent/vdev/disk.img", false, &b),
                     -ENOENT);
    assert_null(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_options),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_comma_escape),
        cmocka_unit_test(test_missing_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
