#include <string.h>

#include "vdev/common.h"

/* glibc's strerror() returns a pointer into a static table for every known errno
 * and only formats (into a shared buffer) for unknown ones; give those a
 * thread-local buffer so the result is always safe to keep. */
VDEV_API const char *vdev_strerror(int err)
{
    static __thread char buf[64];

    if (err < 0)
        err = -err;
    return strerror_r(err, buf, sizeof(buf));
}
