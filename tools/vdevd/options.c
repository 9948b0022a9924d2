/* options.c — vdevd's command line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

void vdevd_usage(FILE *out)
{
    fputs(
"Usage: vdevd [OPTION]... --device SPEC [--device SPEC]...\n"
"       vdevd --socket-path=PATH | --fd=N --blk-file=IMAGE [--read-only]\n"
"Serves virtual devices to a VMM over vhost-user.\n"
"\n"
"  --device SPEC       a device to serve (repeat for more); see below\n"
"  --log-level LEVEL   err, warn, info (default) or debug\n"
"  --print-capabilities  print the vhost-user back-end capabilities (JSON) and exit\n"
"  --help              this text\n"
"  --version           the version\n"
"\n"
"vhost-user back-end program conventions (one virtio-blk device):\n"
"  --socket-path=PATH  listen on the UNIX socket PATH\n"
"  --fd=N              serve the connected socket N (inherited)\n"
"  --blk-file=IMAGE    the disk image or block device\n"
"  --read-only         the guest may not write\n"
"\n"
"SPEC is virtio-blk,KEY=VALUE,... with these keys (',,' is a comma in a value):\n"
"  socket=PATH         listen on PATH; one front-end at a time, the next one is\n"
"                      accepted when it goes (QEMU's reconnect=1)\n"
"  fd=N                serve the connected socket N; exit when it closes\n"
"  file=PATH           a disk image or block device, or\n"
"  null=SIZE           a disk of SIZE (K, M, G, T) that reads zeroes, writes nothing\n"
"  id=NAME             the device's name in log lines (default disk0, disk1, ...)\n"
"  direct=on           open the file O_DIRECT (no host page cache)\n"
"  readonly=on         the guest may not write (VIRTIO_BLK_F_RO)\n"
"  writethrough=on     start in writethrough cache mode (default writeback)\n"
"  num-queues=N        request queues offered (default 1)\n"
"  queue-size=N        the largest ring accepted (default 256)\n"
"  serial=STRING       the disk's serial (GET_ID), at most 20 bytes\n"
"  workers=N           worker threads serving the queues (default: one per\n"
"                      queue, at most 2)\n"
"  poll=on             workers busy-poll the rings instead of sleeping on kicks\n"
"  transport=vfio-user serve it as a virtio-pci function over vfio-user (socket=\n"
"                      only) instead of vhost-user (the default)\n"
"\n"
"Example:\n"
"  vdevd --device virtio-blk,id=disk0,file=disk.img,num-queues=4,socket=/run/vdev/disk0.sock\n"
"\n"
"SIGTERM and SIGINT stop vdevd cleanly. Exit status: 0 after a clean stop, 1 on a\n"
"bad option or a device that cannot be served.\n", out);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

enum { OPT_DEVICE = 256, OPT_LOG_LEVEL, OPT_HELP, OPT_VERSION, OPT_CAPS,
       OPT_SOCKET_PATH, OPT_FD, OPT_BLK_FILE, OPT_READ_ONLY };

static const struct option long_options[] = {
    { "device",             required_argument, NULL, OPT_DEVICE },
    { "log-level",          required_argument, NULL, OPT_LOG_LEVEL },
    { "help",               no_argument,       NULL, OPT_HELP },
    { "version",            no_argument,       NULL, OPT_VERSION },
    { "print-capabilities", no_argument,       NULL, OPT_CAPS },
    { "socket-path",        required_argument, NULL, OPT_SOCKET_PATH },
    { "fd",                 required_argument, NULL, OPT_FD },
    { "blk-file",           required_argument, NULL, OPT_BLK_FILE },
    { "read-only",          no_argument,       NULL, OPT_READ_ONLY },
    { NULL, 0, NULL, 0 },
};

/* The conventions' options, gathered, then turned into one device. */
struct conventional {
    const char *socket_path, *fd, *blk_file;
    bool read_only, any;
};

static int add_conventional(const struct conventional *cv, struct vdevd_options *o,
                            char *err, size_t errlen)
{
    struct vdevd_device_opts *d = &o->devices[0];
    char *end;
    long fd;

    if (o->ndevices)
        return fail(err, errlen, "--socket-path/--fd/--blk-file/--read-only "
                    "and --device do not mix");
    if (!!cv->socket_path == !!cv->fd)
        return fail(err, errlen, "give exactly one of --socket-path and --fd");
    if (!cv->blk_file)
        return fail(err, errlen, "--blk-file is needed with --socket-path or --fd");
    memset(d, 0, sizeof(*d));
    d->fd = -1;
    if (cv->fd) {
        errno = 0;
        fd = strtol(cv->fd, &end, 10);
        if (errno || *end || end == cv->fd || fd < 0 || fd > INT_MAX)
            return fail(err, errlen, "--fd=%s: not a file descriptor number", cv->fd);
        d->fd = (int)fd;
    } else if (!(d->socket_path = strdup(cv->socket_path)))
        return -ENOMEM;
    if (!(d->file = strdup(cv->blk_file)))
        return -ENOMEM;
    d->read_only = cv->read_only;
    o->ndevices = 1;
    return 0;
}

int vdevd_options_parse(int argc, char **argv, struct vdevd_options *o, char *err,
                        size_t errlen)
{
    struct conventional cv = { 0 };
    int c, ret;

    memset(o, 0, sizeof(*o));
    o->log_level = VDEV_LOG_INFO;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_DEVICE:
            if (o->ndevices == VDEVD_MAX_DEVICES)
                return fail(err, errlen, "more than %d devices", VDEVD_MAX_DEVICES);
            ret = vdevd_device_parse(optarg, &o->devices[o->ndevices], err, errlen);
            o->ndevices++;               /* freed by vdevd_options_free either way */
            if (ret < 0)
                return ret;
            break;
        case OPT_LOG_LEVEL:
            if (vdev_log_parse_level(optarg, &o->log_level) < 0)
                return fail(err, errlen, "--log-level %s: say err, warn, info or debug",
                            optarg);
            break;
        case OPT_HELP:         o->help = true; break;
        case OPT_VERSION:      o->version = true; break;
        case OPT_CAPS:         o->print_capabilities = true; break;
        case OPT_SOCKET_PATH:  cv.socket_path = optarg; cv.any = true; break;
        case OPT_FD:           cv.fd = optarg; cv.any = true; break;
        case OPT_BLK_FILE:     cv.blk_file = optarg; cv.any = true; break;
        case OPT_READ_ONLY:    cv.read_only = true; cv.any = true; break;
        case ':':
            return fail(err, errlen, "%s needs a value", argv[optind - 1]);
        default:
            return fail(err, errlen, "unknown option '%s' (see --help)",
                        argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
    if (o->help || o->version || o->print_capabilities)
        return 0;
    if (cv.any && (ret = add_conventional(&cv, o, err, errlen)) < 0)
        return ret;
    if (!o->ndevices)
        return fail(err, errlen, "no device to serve (see --help)");
    for (unsigned i = 0; i < o->ndevices; i++) {
        struct vdevd_device_opts *d = &o->devices[i];
        char id[32];

        if (!d->id) {
            snprintf(id, sizeof(id), "disk%u", i);
            if (!(d->id = strdup(id)))
                return -ENOMEM;
        }
        for (unsigned j = 0; j < i; j++) {
            if (!strcmp(o->devices[j].id, d->id))
                return fail(err, errlen, "two devices are named %s", d->id);
            if (d->socket_path && o->devices[j].socket_path &&
                !strcmp(o->devices[j].socket_path, d->socket_path))
                return fail(err, errlen, "two devices listen on %s", d->socket_path);
        }
    }
    return 0;
}

void vdevd_options_free(struct vdevd_options *o)
{
    for (unsigned i = 0; i < o->ndevices; i++) {
        struct vdevd_device_opts *d = &o->devices[i];
        free(d->id);
        free(d->socket_path);
        free(d->file);
        free(d->serial);
    }
    o->ndevices = 0;
}
