/* vdev-bench's command line: defaults, sizes with suffixes, and a bad value is
 * -EINVAL, never a silent default. */
#include <errno.h>

#include "helpers.h"
#include "../../../tools/vdev-bench/options.h"

#define PARSE(o, ...)                                                        \
    ({                                                                       \
        char *argv_[] = { "vdev-bench", __VA_ARGS__, NULL };                 \
        bench_options_parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1,    \
                            argv_, (o));                                     \
    })

static void test_defaults(void **state)
{
    struct bench_options o;

    (void)state;
    assert_int_equal(PARSE(&o, "--socket", "/s"), 0);
    assert_string_equal(o.socket, "/s");
    assert_int_equal(o.rw, BENCH_RANDREAD);
    assert_int_equal(o.bs, 4096);
    assert_int_equal(o.iodepth, 1);
    assert_int_equal(o.queues, 1);
    assert_true(o.seconds == 5.0);
    assert_false(o.packed || o.poll || o.json || o.indirect);
    assert_int_equal(o.transport, BENCH_VHOST_USER);
}

static void test_all_options(void **state)
{
    struct bench_options o;

    (void)state;
    assert_int_equal(PARSE(&o, "--socket", "/s", "--rw", "verify", "--bs", "64k",
                           "--iodepth", "32", "--queues", "4", "--time", "0.5",
                           "--size", "1G", "--packed", "--poll", "--json",
                           "--indirect", "--queue-size", "512", "--seed", "7",
                           "--transport", "vfio-user"), 0);
    assert_int_equal(o.transport, BENCH_VFIO_USER);
    assert_int_equal(o.rw, BENCH_VERIFY);
    assert_int_equal(o.bs, 65536);
    assert_int_equal(o.iodepth, 32);
    assert_int_equal(o.queues, 4);
    assert_true(o.seconds == 0.5);
    assert_true(o.size == 1ull << 30);
    assert_true(o.packed && o.poll && o.json && o.indirect);
    assert_int_equal(o.queue_size, 512);
    assert_int_equal(o.seed, 7);
}

static void test_sizes(void **state)
{
    uint64_t v;

    (void)state;
    assert_int_equal(bench_parse_size("512", &v), 0);
    assert_true(v == 512);
    assert_int_equal(bench_parse_size("4k", &v), 0);
    assert_true(v == 4096);
    assert_int_equal(bench_parse_size("2MiB", &v), 0);
    assert_true(v == 2u << 20);
    assert_int_equal(bench_parse_size("3T", &v), 0);
    assert_true(v == 3ull << 40);
    assert_int_equal(bench_parse_size("", &v), -EINVAL);
    assert_int_equal(bench_parse_size("-4k", &v), -EINVAL);
    assert_int_equal(bench_parse_size("4q", &v), -EINVAL);
    assert_int_equal(bench_parse_size("99999999999999999999", &v), -EINVAL);
    assert_int_equal(bench_parse_size("17179869184G", &v), -EINVAL);  /* 2^64 */
}

static void test_bad_values(void **state)
{
    struct bench_options o;

    (void)state;
    assert_int_equal(PARSE(&o, "--rw", "randread"), -EINVAL);        /* no socket */
    assert_int_equal(PARSE(&o, "--socket", "/s", "--rw", "trim"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--transport", "pigeon"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--bs", "1000"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--bs", "0"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--bs", "2M"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--iodepth", "0"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--iodepth", "1025"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--queues", "65"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--time", "0"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--time", "5s"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "--size", "1k"), -EINVAL); /* < bs */
    assert_int_equal(PARSE(&o, "--socket", "/s", "--nosuch"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket", "/s", "extra"), -EINVAL);
    assert_int_equal(PARSE(&o, "--socket"), -EINVAL);                 /* no value */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_options),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_bad_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
