/* common.h — what every vdev header needs.
 *
 * Error convention: a function returns 0 (or a count) on success and a negative
 * errno on failure (-EINVAL, -ENOMEM, ...). It never returns -1 and sets errno, so
 * an error is thread-safe and travels to the wire as it is. */
#ifndef VDEV_COMMON_H
#define VDEV_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define VDEV_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

/* Text for a negative (or positive) errno, thread-safe; never NULL. */
VDEV_API const char *vdev_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
