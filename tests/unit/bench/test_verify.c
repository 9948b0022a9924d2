/* --rw verify's pattern and bookkeeping: the pattern tells offsets and
 * generations apart and finds one flipped bit; a block is never handed out
 * twice at once, written before it is read, read back before it is written
 * again, and the read-back phase finds exactly the blocks not checked yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../../../tools/vdev-bench/pattern.h"
#include "../../../tools/vdev-bench/verify.h"

#define BS 4096

static void test_pattern(void **state)
{
    static uint8_t a[BS], b[BS];

    (void)state;
    bench_pattern_fill(a, BS, 8 * BS, 3);
    assert_int_equal(bench_pattern_check(a, BS, 8 * BS, 3), -1);
    assert_int_equal(bench_pattern_check(a, BS, 8 * BS, 4), 0);       /* generation */
    assert_int_equal(bench_pattern_check(a, BS, 9 * BS, 3), 0);       /* offset */
    assert_int_equal(bench_pattern_check(a, BS, 8 * BS + 8, 3), 0);   /* shifted */
    memcpy(b, a, BS);
    b[1234] ^= 0x10;
    assert_int_equal(bench_pattern_check(b, BS, 8 * BS, 3), 1232);
    memset(b, 0, BS);
    assert_int_equal(bench_pattern_check(b, BS, 8 * BS, 3), 0);
    assert_true(bench_pattern_word(8 * BS, 3) != bench_pattern_word(8 * BS, 0));
}

/* Blocks handed out in the timed phase: first a write of generation 1, then a
 * read of it, then a write of generation 2; never one in flight twice. */
static void test_write_read_cycle(void **state)
{
    struct bench_verify v;
    uint64_t block;
    uint32_t gen;
    bool write;
    static uint8_t buf[BS];

    (void)state;
    assert_int_equal(bench_verify_init(&v, 4, BS), 0);
    /* The same random number picks block 0 each time; in flight, the next. */
    bench_verify_next(&v, 0, &block, &write, &gen);
    assert_true(block == 0 && write && gen == 1);
    bench_verify_next(&v, 0, &block, &write, &gen);
    assert_true(block == 1 && write && gen == 1);
    bench_verify_abort(&v, 1);

    bench_pattern_fill(buf, BS, 0, 1);
    bench_verify_written(&v, 0, 1);
    bench_verify_next(&v, 0, &block, &write, &gen);
    assert_true(block == 0 && !write && gen == 1);
    assert_int_equal(bench_verify_read(&v, 0, 1, buf), 0);
    bench_verify_next(&v, 0, &block, &write, &gen);
    assert_true(block == 0 && write && gen == 2);
    assert_true(v.bytes_written == BS && v.bytes_verified == BS);
    bench_verify_fini(&v);
}

/* The read-back phase: written and unchecked blocks only, each once, and a
 * write completing behind the cursor is still found. */
static void test_readback(void **state)
{
    struct bench_verify v;
    uint64_t block;
    uint32_t gen;
    static uint8_t buf[BS];

    (void)state;
    assert_int_equal(bench_verify_init(&v, 16, BS), 0);
    bench_verify_written(&v, 3, 1);
    bench_verify_written(&v, 9, 2);
    bench_pattern_fill(buf, BS, 3 * BS, 1);
    assert_true(bench_verify_next_unchecked(&v, &block, &gen));
    assert_true(block == 3 && gen == 1);
    assert_int_equal(bench_verify_read(&v, 3, 1, buf), 0);
    assert_true(bench_verify_next_unchecked(&v, &block, &gen));
    assert_true(block == 9 && gen == 2);
    assert_false(bench_verify_next_unchecked(&v, &block, &gen));
    bench_verify_written(&v, 5, 4);          /* a late write, behind the cursor */
    assert_true(bench_verify_next_unchecked(&v, &block, &gen));
    assert_true(block == 5 && gen == 4);
    assert_false(bench_verify_next_unchecked(&v, &block, &gen));
    bench_verify_fini(&v);
}

/* A read that returns zeroes or an older generation is a mismatch: -EILSEQ,
 * counted, and nothing counted as verified. */
static void test_mismatch(void **state)
{
    struct bench_verify v;
    static uint8_t buf[BS];

    (void)state;
    assert_int_equal(bench_verify_init(&v, 4, BS), 0);
    bench_verify_written(&v, 2, 5);
    memset(buf, 0, BS);
    assert_int_equal(bench_verify_read(&v, 2, 5, buf), -EILSEQ);
    bench_pattern_fill(buf, BS, 2 * BS, 4);
    assert_int_equal(bench_verify_read(&v, 2, 5, buf), -EILSEQ);
    assert_true(v.mismatches == 2 && v.bytes_verified == 0);
    bench_verify_fini(&v);
}

static void test_limits(void **state)
{
    struct bench_verify v;

    (void)state;
    assert_int_equal(bench_verify_init(&v, 0, BS), -E2BIG);
    assert_int_equal(bench_verify_init(&v, (1ull << 28) + 1, BS), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern),
        cmocka_unit_test(test_write_read_cycle),
        cmocka_unit_test(test_readback),
        cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
