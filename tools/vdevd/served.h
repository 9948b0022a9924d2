/* served.h — one device vdevd serves: its block backend, virtio device, worker
 * threads and vhost-user back-end. */
#ifndef VDEVD_SERVED_H
#define VDEVD_SERVED_H

#include "options.h"

struct vdev_loop;
struct vdevd_served;

/* Called on the control thread when a device given fd=N has lost its
 * front-end: nothing more can come for it. */
typedef void (*vdevd_done_fn)(void *opaque, struct vdevd_served *s);

/* Opens the backend, makes the device, starts its workers and its back-end on
 * loop. 0, or a negative errno with one line in err saying what failed. */
int  vdevd_served_start(struct vdev_loop *loop, const struct vdevd_device_opts *d,
                        vdevd_done_fn done, void *opaque,
                        struct vdevd_served **out, char *err, size_t errlen);
/* Drops the front-end, stops the workers, closes everything. NULL is a no-op. */
void vdevd_served_stop(struct vdevd_served *s);

#endif
