/* report.c — vdev-bench's output. Rates are per second of the measured time;
 * MB is 10^6 bytes, MiB 2^20; latencies in microseconds. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "vdev/common.h"
#include "report.h"

static double rate(uint64_t n, double seconds)
{
    return seconds > 0 ? (double)n / seconds : 0.0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

void bench_report_progress(void *opaque, const struct bench_progress *p)
{
    struct bench_progress_out *out = opaque;
    double iops = rate(p->ios, p->interval);

    fprintf(out->f, "%svdev-bench: [%3.0f/%.0f s] %9.0f IOPS  p99 %7.1f us%s",
            out->tty ? "\r" : "", p->elapsed, out->seconds, iops,
            us(bench_hist_quantile(p->lat, 0.99)), out->tty ? "" : "\n");
    fflush(out->f);
    out->printed = true;
}

void bench_report_progress_end(struct bench_progress_out *out)
{
    if (out->tty && out->printed)
        fputc('\n', out->f);
    out->printed = false;
}

static const char *layout(const struct bench_options *o)
{
    return o->packed ? (o->indirect ? "packed+indirect" : "packed")
                     : (o->indirect ? "split+indirect" : "split");
}

/* bench_run()'s errors in the words of the job. */
static const char *failure(int err)
{
    switch (err) {
    case -EILSEQ:
        return "verify read back data it did not write";
    case -EIO:
        return "the device failed requests";
    case -ETIMEDOUT:
        return "the back-end stopped completing requests";
    case -EPROTO:
        return "the back-end broke the virtqueue or vhost-user protocol";
    default:
        return vdev_strerror(err);
    }
}

void bench_report_text(FILE *f, const struct bench_options *o,
                       const struct bench_result *r, int err)
{
    const struct bench_hist *h = &r->lat;

    fprintf(f, "%s over %s bs=%u iodepth=%u queues=%u (%s rings of %u, %s), %.2f s\n",
            bench_rw_name(o->rw), bench_transport_name(o->transport), o->bs, o->iodepth,
            o->queues, layout(o),
            r->queue_size, o->poll ? "polling" : "waiting on calls", r->seconds);
    fprintf(f, "  IOPS     %.0f   (%" PRIu64 " requests: %" PRIu64 " reads, %" PRIu64
            " writes)\n", rate(r->ios, r->seconds), r->ios, r->reads, r->writes);
    fprintf(f, "  MB/s     %.1f\n", rate(r->bytes, r->seconds) / 1e6);
    fprintf(f, "  latency  mean %.1f  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us\n",
            bench_hist_mean(h) / 1000.0, us(bench_hist_quantile(h, 0.5)),
            us(bench_hist_quantile(h, 0.99)), us(bench_hist_quantile(h, 0.999)),
            us(h->count ? h->max : 0));
    if (o->rw == BENCH_VERIFY)
        fprintf(f, "  verify   %.1f MiB written, %.1f MiB read back and verified, "
                "%" PRIu64 " mismatches\n", (double)r->bytes_written / (1 << 20),
                (double)r->bytes_verified / (1 << 20), r->mismatches);
    if (r->io_errors)
        fprintf(f, "  errors   %" PRIu64 " requests failed\n", r->io_errors);
    if (err)
        fprintf(f, "  result   FAILED: %s\n", failure(err));
}

void bench_report_json(FILE *f, const struct bench_options *o,
                       const struct bench_result *r, int err)
{
    const struct bench_hist *h = &r->lat;

    fprintf(f, "{\"transport\":\"%s\",\"rw\":\"%s\",\"bs\":%u,\"iodepth\":%u,\"queues\":%u,"
            "\"packed\":%s,\"indirect\":%s,\"poll\":%s,\"queue_size\":%u,"
            "\"seconds\":%.6f,\"ios\":%" PRIu64 ",\"reads\":%" PRIu64
            ",\"writes\":%" PRIu64 ",\"iops\":%.1f,\"mbps\":%.3f,"
            "\"lat_us\":{\"mean\":%.3f,\"p50\":%.3f,\"p99\":%.3f,\"p99.9\":%.3f,"
            "\"max\":%.3f},\"bytes_written\":%" PRIu64 ",\"bytes_verified\":%" PRIu64
            ",\"io_errors\":%" PRIu64 ",\"mismatches\":%" PRIu64 ",\"error\":%d}\n",
            bench_transport_name(o->transport), bench_rw_name(o->rw), o->bs, o->iodepth,
            o->queues, o->packed ? "true" : "false", o->indirect ? "true" : "false",
            o->poll ? "true" : "false", r->queue_size, r->seconds, r->ios, r->reads,
            r->writes, rate(r->ios, r->seconds), rate(r->bytes, r->seconds) / 1e6,
            bench_hist_mean(h) / 1000.0, us(bench_hist_quantile(h, 0.5)),
            us(bench_hist_quantile(h, 0.99)), us(bench_hist_quantile(h, 0.999)),
            us(h->count ? h->max : 0), r->bytes_written, r->bytes_verified,
            r->io_errors, r->mismatches, err);
    fflush(f);
}
