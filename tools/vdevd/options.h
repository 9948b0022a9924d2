/* options.h — vdevd's command line, parsed into what the daemon serves.
 *
 * Two forms (vdevd --help has the whole text):
 *   vdevd --device virtio-blk,socket=PATH,file=IMG[,...] [--device ...]
 *   vdevd --socket-path=PATH | --fd=N --blk-file=IMG [--read-only]
 * The second is the vhost-user.rst "Backend program conventions" form of a
 * single vhost-user-blk device; it is turned into one --device. */
#ifndef VDEVD_OPTIONS_H
#define VDEVD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vdev/log.h"

#define VDEVD_MAX_DEVICES 64

struct vdevd_device_opts {
    char *id;                 /* for log lines; "disk<N>" when not given */
    char *socket_path;        /* exactly one of socket_path and fd */
    int fd;                   /* -1 when not given */
    char *file;               /* exactly one of file and null_size */
    uint64_t null_size;       /* bytes; 0 when not given */
    bool direct;
    bool read_only;
    bool writethrough;
    uint16_t num_queues;      /* 0: 1 */
    uint16_t queue_size;      /* 0: the device's default */
    char *serial;
    unsigned workers;         /* worker threads; 0: one per queue, at most 2 */
    bool poll;
    bool vfio_user;           /* transport=vfio-user: a virtio-pci function */
};

struct vdevd_options {
    enum vdev_log_level log_level;
    bool help, version, print_capabilities;
    unsigned ndevices;
    struct vdevd_device_opts devices[VDEVD_MAX_DEVICES];
};

/* Parses argv. 0, or -EINVAL with one line (no newline) in err explaining what
 * is wrong. Strings in *o are allocated: vdevd_options_free(). */
int  vdevd_options_parse(int argc, char **argv, struct vdevd_options *o,
                         char *err, size_t errlen);
void vdevd_options_free(struct vdevd_options *o);

/* Parses one --device value into d (whose strings it allocates). */
int  vdevd_device_parse(const char *spec, struct vdevd_device_opts *d,
                        char *err, size_t errlen);

void vdevd_usage(FILE *out);

#endif
