/* vdevd — serves the virtual devices named on its command line to VMMs over
 * vhost-user. One control thread runs every device's protocol socket; each
 * device's queues run on its own worker threads. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vdev/log.h"
#include "vdev/loop.h"
#include "options.h"
#include "served.h"
#include "startup_log.h"

#define VDEVD_VERSION "0.1.0"

struct daemon {
    struct vdev_loop *loop;
    struct vdevd_options opts;
    struct vdevd_served *served[VDEVD_MAX_DEVICES];
    unsigned nfd_devices, nfd_done;    /* devices given fd=N, and those done */
    int sigfd;
    int signo;
};

/* vhost-user.rst, "Backend program conventions": the JSON printed by
 * --print-capabilities (schema docs/interop/vhost-user.json). */
static void print_capabilities(void)
{
    printf("{\n  \"type\": \"block\",\n  \"features\": [\n"
           "    \"read-only\",\n    \"blk-file\"\n  ]\n}\n");
}

static void on_signal(void *opaque, uint32_t events)
{
    struct daemon *d = opaque;
    struct signalfd_siginfo si;

    if (read(d->sigfd, &si, sizeof(si)) != sizeof(si))
        return;
    d->signo = (int)si.ssi_signo;
    vdev_info("vdevd: %s: shutting down", strsignal(d->signo));
    vdev_loop_stop(d->loop);
}

/* A device on an inherited connection has lost it; when every device is such
 * a device and all are done, nothing more can come: stop. */
static void on_device_done(void *opaque, struct vdevd_served *s)
{
    struct daemon *d = opaque;

    d->nfd_done++;
    if (d->nfd_done == d->nfd_devices && d->nfd_devices == d->opts.ndevices) {
        vdev_info("vdevd: every front-end has gone; exiting");
        vdev_loop_stop(d->loop);
    }
}

/* SIGTERM and SIGINT arrive on a signalfd the control loop watches; they are
 * blocked before any worker thread starts, so every thread inherits the mask
 * and only the signalfd sees them. */
static int watch_signals(struct daemon *d)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (d->sigfd < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    return vdev_loop_add_fd(d->loop, d->sigfd, EPOLLIN, on_signal, d, NULL);
}

static int start_devices(struct daemon *d)
{
    char err[512];
    int ret;

    for (unsigned i = 0; i < d->opts.ndevices; i++) {
        const struct vdevd_device_opts *o = &d->opts.devices[i];

        ret = vdevd_served_start(d->loop, o, on_device_done, d, &d->served[i],
                                 err, sizeof(err));
        if (ret < 0) {
            fprintf(stderr, "vdevd: %s\n", err);
            return ret;
        }
        if (o->fd >= 0)
            d->nfd_devices++;
    }
    return 0;
}

static void stop_devices(struct daemon *d)
{
    for (unsigned i = 0; i < d->opts.ndevices; i++) {
        vdevd_served_stop(d->served[i]);
        d->served[i] = NULL;
    }
}

int main(int argc, char **argv)
{
    struct daemon d = { .sigfd = -1 };
    char err[512];
    int ret, status = 1;

    ret = vdevd_options_parse(argc, argv, &d.opts, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "vdevd: %s\n", ret == -EINVAL ? err : vdev_strerror(ret));
        goto out;
    }
    if (d.opts.help || d.opts.version || d.opts.print_capabilities) {
        if (d.opts.help)
            vdevd_usage(stdout);
        else if (d.opts.version)
            printf("vdevd %s\n", VDEVD_VERSION);
        else
            print_capabilities();
        status = 0;
        goto out;
    }
    vdev_log_set_level(d.opts.log_level);
    vdevd_log_hold();

    ret = vdev_loop_new(&d.loop);
    if (ret == 0)
        ret = watch_signals(&d);
    if (ret < 0) {
        vdevd_log_release(d.opts.log_level >= VDEV_LOG_DEBUG);
        fprintf(stderr, "vdevd: cannot set up the control loop: %s\n",
                vdev_strerror(ret));
        goto out;
    }
    if (start_devices(&d) < 0) {
        vdevd_log_release(d.opts.log_level >= VDEV_LOG_DEBUG);
        goto out;
    }
    vdevd_log_release(true);

    ret = vdev_loop_run(d.loop);
    if (ret < 0)
        vdev_err("vdevd: control loop: %s", vdev_strerror(ret));
    else
        status = 0;
out:
    stop_devices(&d);
    if (d.loop)
        vdev_loop_free(d.loop);
    if (d.sigfd >= 0)
        close(d.sigfd);
    vdevd_options_free(&d.opts);
    if (status == 0 && d.signo)
        vdev_info("vdevd: stopped");
    return status;
}
