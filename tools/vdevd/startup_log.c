/* startup_log.c — holds the library's log lines while vdevd starts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vdev/log.h"
#include "startup_log.h"

#define HELD_MAX 128

static const char *const level_names[] = { "err", "warn", "info", "debug" };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool holding;
static unsigned nheld, ndropped;
static struct held { enum vdev_log_level level; char *line; } held[HELD_MAX];

static void print_line(enum vdev_log_level level, const char *line)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stderr, "%lld.%06ld vdevd %s: %s\n", (long long)ts.tv_sec,
            ts.tv_nsec / 1000, level_names[(unsigned)level <= 3 ? level : 3], line);
}

static void handler(enum vdev_log_level level, const char *line, void *opaque)
{
    pthread_mutex_lock(&lock);
    if (holding) {
        char *copy = nheld < HELD_MAX ? strdup(line) : NULL;
        if (copy)
            held[nheld++] = (struct held){ level, copy };
        else
            ndropped++;
        pthread_mutex_unlock(&lock);
        return;
    }
    pthread_mutex_unlock(&lock);
    print_line(level, line);
}

void vdevd_log_hold(void)
{
    holding = true;
    vdev_log_set_handler(handler, NULL);
}

void vdevd_log_release(bool print)
{
    pthread_mutex_lock(&lock);
    holding = false;
    for (unsigned i = 0; i < nheld; i++) {
        if (print)
            print_line(held[i].level, held[i].line);
        free(held[i].line);
    }
    if (print && ndropped)
        fprintf(stderr, "vdevd: %u start-up log lines dropped\n", ndropped);
    nheld = ndropped = 0;
    pthread_mutex_unlock(&lock);
}
