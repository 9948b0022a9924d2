/* log.h — the library's log.
 *
 * Lines go to stderr by default; a program that embeds libvdev installs its own
 * handler. Everything a peer did wrong is logged at WARN with the peer's name, so
 * an operator can tell which VMM sent what. */
#ifndef VDEV_LOG_H
#define VDEV_LOG_H

#include <stdarg.h>
#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum vdev_log_level {
    VDEV_LOG_ERR = 0,
    VDEV_LOG_WARN,
    VDEV_LOG_INFO,
    VDEV_LOG_DEBUG,
};

/* Called with one formatted line, without a trailing newline. May be called from
 * any thread, concurrently. */
typedef void (*vdev_log_fn)(enum vdev_log_level level, const char *line, void *opaque);

/* Lines above this level are dropped before they are formatted. Default INFO;
 * the environment variable VDEV_LOG_LEVEL (err, warn, info, debug) overrides the
 * default at the first log call. */
VDEV_API void vdev_log_set_level(enum vdev_log_level level);
VDEV_API enum vdev_log_level vdev_log_get_level(void);

/* NULL restores the stderr handler. */
VDEV_API void vdev_log_set_handler(vdev_log_fn fn, void *opaque);

VDEV_API void vdev_log(enum vdev_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
VDEV_API void vdev_logv(enum vdev_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Parses "err", "warn", "info", "debug"; -EINVAL otherwise. */
VDEV_API int vdev_log_parse_level(const char *name, enum vdev_log_level *out);

#define vdev_err(...)   vdev_log(VDEV_LOG_ERR, __VA_ARGS__)
#define vdev_warn(...)  vdev_log(VDEV_LOG_WARN, __VA_ARGS__)
#define vdev_info(...)  vdev_log(VDEV_LOG_INFO, __VA_ARGS__)
#define vdev_debug(...) vdev_log(VDEV_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
