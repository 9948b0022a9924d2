/* log.c — levels, a replaceable handler, stderr by default. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vdev/log.h"

static enum vdev_log_level log_level = VDEV_LOG_INFO;
static vdev_log_fn log_fn;
static void *log_opaque;
static int level_from_env_done;

static const char *const level_names[] = {
    [VDEV_LOG_ERR] = "err",
    [VDEV_LOG_WARN] = "warn",
    [VDEV_LOG_INFO] = "info",
    [VDEV_LOG_DEBUG] = "debug",
};

VDEV_API int vdev_log_parse_level(const char *name, enum vdev_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (name && strcasecmp(name, level_names[i]) == 0) {
            *out = (enum vdev_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* The environment sets the default once; an explicit vdev_log_set_level() wins. */
static void level_from_env(void)
{
    enum vdev_log_level l;

    if (__atomic_exchange_n(&level_from_env_done, 1, __ATOMIC_ACQ_REL))
        return;
    if (vdev_log_parse_level(getenv("VDEV_LOG_LEVEL"), &l) == 0)
        __atomic_store_n(&log_level, l, __ATOMIC_RELAXED);
}

VDEV_API void vdev_log_set_level(enum vdev_log_level level)
{
    __atomic_store_n(&level_from_env_done, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

VDEV_API enum vdev_log_level vdev_log_get_level(void)
{
    level_from_env();
    return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

/* Set once at start-up by the embedding program, before threads log. */
VDEV_API void vdev_log_set_handler(vdev_log_fn fn, void *opaque)
{
    log_fn = fn;
    log_opaque = opaque;
}

static void log_to_stderr(enum vdev_log_level level, const char *line)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    /* One fprintf per line: stdio locks the stream, so lines never interleave. */
    fprintf(stderr, "%lld.%06ld vdev %s: %s\n", (long long)ts.tv_sec,
            ts.tv_nsec / 1000, level_names[level], line);
}

VDEV_API void vdev_logv(enum vdev_log_level level, const char *fmt, va_list ap)
{
    char line[1024];

    if ((unsigned)level > VDEV_LOG_DEBUG || level > vdev_log_get_level())
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    if (log_fn)
        log_fn(level, line, log_opaque);
    else
        log_to_stderr(level, line);
}

VDEV_API void vdev_log(enum vdev_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vdev_logv(level, fmt, ap);
    va_end(ap);
}
