/* vdev-bench — drives a vhost-user-blk back-end (vdevd, qemu-storage-daemon,
 * any other) from plain userspace with vdev's front-end, or a virtio-blk
 * virtio-pci function over vfio-user with vdev's client (--transport
 * vfio-user), and measures it: IOPS,
 * MB/s and latency percentiles, or, with --rw verify, whether what it reads back
 * is what it wrote. Exit 0 on success, 1 on any failure (a bad option, a failed
 * request, a mismatch), after the result. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vdev/log.h"
#include "job.h"
#include "options.h"
#include "report.h"

static volatile sig_atomic_t stop_asked;

/* The first signal ends the timed phase (verify still reads back what it
 * wrote); a second ends that too. What is in flight completes either way. */
static void on_signal(int signo)
{
    (void)signo;
    if (stop_asked < 2)
        stop_asked++;
}

int main(int argc, char **argv)
{
    struct bench_options o;
    struct bench_progress_out out = { .f = stderr, .tty = isatty(STDERR_FILENO) };
    struct sigaction sa = { .sa_handler = on_signal };
    struct bench_result *r;
    int ret;

    ret = bench_options_parse(argc, argv, &o);
    if (ret)
        return ret > 0 ? 0 : 1;
    r = malloc(sizeof(*r));
    if (!r) {
        fprintf(stderr, "vdev-bench: out of memory\n");
        return 1;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);            /* a back-end that goes is an error code */
    if (vdev_log_get_level() > VDEV_LOG_WARN && !getenv("VDEV_LOG_LEVEL"))
        vdev_log_set_level(VDEV_LOG_WARN);

    out.seconds = o.seconds;
    ret = bench_run(&o, r, o.quiet ? NULL : bench_report_progress, &out, &stop_asked);
    bench_report_progress_end(&out);
    if (o.json)
        bench_report_json(stdout, &o, r, ret);
    else if (r->ios || ret == 0)
        bench_report_text(stdout, &o, r, ret);
    free(r);
    return ret == 0 ? 0 : 1;
}
