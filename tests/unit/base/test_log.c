/* The log: levels filter before formatting, the embedder's handler gets each
 * line, NULL restores stderr; level names parse; strerror is never NULL. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vdev/log.h"
#include "helpers.h"

struct captured {
    int count;
    enum vdev_log_level level;
    char line[256];
};

static void capture(enum vdev_log_level level, const char *line, void *opaque)
{
    struct captured *c = opaque;

    c->count++;
    c->level = level;
    snprintf(c->line, sizeof(c->line), "%s", line);
}

static void test_handler_and_levels(void **state)
{
    struct captured c = { 0 };

    vdev_log_set_handler(capture, &c);
    vdev_log_set_level(VDEV_LOG_WARN);
    vdev_info("dropped %d", 1);
    assert_int_equal(c.count, 0);
    vdev_warn("kept %d from %s", 2, "peer");
    assert_int_equal(c.count, 1);
    assert_int_equal(c.level, VDEV_LOG_WARN);
    assert_string_equal(c.line, "kept 2 from peer");
    vdev_err("an error");
    assert_int_equal(c.count, 2);
    assert_int_equal(c.level, VDEV_LOG_ERR);
    vdev_log((enum vdev_log_level)42, "out of range");
    assert_int_equal(c.count, 2);

    vdev_log_set_level(VDEV_LOG_DEBUG);
    assert_int_equal(vdev_log_get_level(), VDEV_LOG_DEBUG);
    vdev_debug("now kept");
    assert_int_equal(c.count, 3);

    vdev_log_set_handler(NULL, NULL);
    vdev_debug("to stderr");          /* must not reach the old handler */
    assert_int_equal(c.count, 3);
    vdev_log_set_level(VDEV_LOG_INFO);
}

/* A line longer than the buffer is cut, not overrun. */
static void test_long_line_truncated(void **state)
{
    struct captured c = { 0 };
    char big[4096];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    vdev_log_set_handler(capture, &c);
    vdev_warn("%s", big);
    assert_int_equal(c.count, 1);
    assert_true(strlen(c.line) > 100);
    vdev_log_set_handler(NULL, NULL);
}

static void test_parse_level(void **state)
{
    enum vdev_log_level l;

    assert_int_equal(vdev_log_parse_level("debug", &l), 0);
    assert_int_equal(l, VDEV_LOG_DEBUG);
    assert_int_equal(vdev_log_parse_level("WARN", &l), 0);
    assert_int_equal(l, VDEV_LOG_WARN);
    assert_int_equal(vdev_log_parse_level("loud", &l), -EINVAL);
    assert_int_equal(vdev_log_parse_level(NULL, &l), -EINVAL);
}

static void test_strerror(void **state)
{
    assert_string_equal(vdev_strerror(-EINVAL), strerror(EINVAL));
    assert_string_equal(vdev_strerror(EBADF), strerror(EBADF));
    assert_non_null(vdev_strerror(-99999));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handler_and_levels),
        cmocka_unit_test(test_long_line_truncated),
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
