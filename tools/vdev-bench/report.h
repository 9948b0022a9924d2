/* report.h — what vdev-bench prints: the progress line and the result. */
#ifndef VDEV_BENCH_REPORT_H
#define VDEV_BENCH_REPORT_H

#include <stdio.h>

#include "job.h"
#include "options.h"

struct bench_progress_out {
    FILE *f;
    double seconds;        /* of the timed phase, for "[3/5 s]" */
    bool tty;              /* rewrite one line with \r, else a line each */
    bool printed;
};

/* A bench_progress_fn: one line a second on out->f. */
void bench_report_progress(void *out, const struct bench_progress *p);
/* Ends a tty's progress line, so that what follows starts on its own line. */
void bench_report_progress_end(struct bench_progress_out *out);

/* The result for a person; err is bench_run()'s answer. */
void bench_report_text(FILE *f, const struct bench_options *o,
                       const struct bench_result *r, int err);
/* The result as one JSON object on one line, for scripts. */
void bench_report_json(FILE *f, const struct bench_options *o,
                       const struct bench_result *r, int err);

#endif
