/* options.c — parses vdev-bench's command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static const char *const rw_names[] = {
    [BENCH_RANDREAD] = "randread", [BENCH_RANDWRITE] = "randwrite",
    [BENCH_READ] = "read", [BENCH_WRITE] = "write", [BENCH_VERIFY] = "verify",
};

const char *bench_rw_name(enum bench_rw rw)
{
    return (unsigned)rw < sizeof(rw_names) / sizeof(rw_names[0]) ? rw_names[rw] : "?";
}

const char *bench_transport_name(enum bench_transport_kind t)
{
    return t == BENCH_VFIO_USER ? "vfio-user" : "vhost-user";
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: vdev-bench --socket PATH [options]\n"
"Drives a virtio-blk device over vhost-user or vfio-user with vdev's clients\n"
"and measures it.\n"
"  --socket PATH         the back-end's UNIX socket (required)\n"
"  --transport T         vhost-user (default) or vfio-user (a virtio-pci function)\n"
"  --rw MODE             randread (default), randwrite, read, write, verify\n"
"  --bs SIZE             bytes per request, a multiple of 512 (default 4k)\n"
"  --iodepth N           requests in flight per queue (default 1)\n"
"  --queues N            virtqueues, driven by one thread (default 1)\n"
"  --time SECONDS        timed I/O (default 5; verify reads back after it)\n"
"  --size SIZE           span of the disk used from offset 0 (default: all)\n"
"  --queue-size N        ring entries (default: fits iodepth, at least 256)\n"
"  --packed              packed virtqueues\n"
"  --indirect            each request in an indirect descriptor table\n"
"  --poll                busy-poll the used ring instead of waiting on calls\n"
"                        (vfio-user: on MSI-X interrupts)\n"
"  --json                print the result as one JSON line on stdout\n"
"  --quiet               no progress line on stderr\n"
"  --seed N              seed of the random offsets (default 1)\n"
"  --connect-timeout MS  keep trying to connect this long (default 5000)\n"
"SIZE takes K, M, G, T suffixes (powers of 1024).\n");
}

int bench_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end == 'i' && shift)    /* "4KiB" style, also "4Ki" */
        end++;
    if ((*end == 'B' || *end == 'b') && shift)
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int bad(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "vdev-bench: --%s %s: %s\n", opt, val ? val : "", why);
    return -EINVAL;
}

enum { OPT_QUEUE_SIZE = 256, OPT_CONNECT_TIMEOUT, OPT_SEED, OPT_TRANSPORT };

static const struct option long_opts[] = {
    { "socket", required_argument, NULL, 's' },
    { "transport", required_argument, NULL, OPT_TRANSPORT },
    { "rw", required_argument, NULL, 'r' },
    { "bs", required_argument, NULL, 'b' },
    { "iodepth", required_argument, NULL, 'd' },
    { "queues", required_argument, NULL, 'q' },
    { "time", required_argument, NULL, 't' },
    { "size", required_argument, NULL, 'S' },
    { "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
    { "packed", no_argument, NULL, 'P' },
    { "indirect", no_argument, NULL, 'I' },
    { "poll", no_argument, NULL, 'p' },
    { "json", no_argument, NULL, 'j' },
    { "quiet", no_argument, NULL, 'Q' },
    { "seed", required_argument, NULL, OPT_SEED },
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* One option with its argument; 0, 1 (help) or -EINVAL. */
static int parse_one(int opt, const char *arg, struct bench_options *o)
{
    const char *name = "";
    unsigned long n;
    uint64_t v;
    char *end;

    for (const struct option *lo = long_opts; lo->name; lo++)
        if (lo->val == opt)
            name = lo->name;
    switch (opt) {
    case 's':
        o->socket = arg;
        return 0;
    case OPT_TRANSPORT:
        if (strcmp(arg, "vhost-user") == 0)
            o->transport = BENCH_VHOST_USER;
        else if (strcmp(arg, "vfio-user") == 0)
            o->transport = BENCH_VFIO_USER;
        else
            return bad(name, arg, "vhost-user or vfio-user");
        return 0;
    case 'r':
        for (unsigned i = 0; i < sizeof(rw_names) / sizeof(rw_names[0]); i++) {
            if (strcmp(arg, rw_names[i]) == 0) {
                o->rw = (enum bench_rw)i;
                return 0;
            }
        }
        return bad(name, arg, "randread, randwrite, read, write or verify");
    case 'b':
        if (bench_parse_size(arg, &v) < 0 || v == 0 || v % 512 || v > BENCH_MAX_BS)
            return bad(name, arg, "a multiple of 512 up to 1M");
        o->bs = (uint32_t)v;
        return 0;
    case 'd':
        if (parse_uint(arg, BENCH_MAX_IODEPTH, &n) < 0 || n == 0)
            return bad(name, arg, "1 to 1024");
        o->iodepth = (unsigned)n;
        return 0;
    case 'q':
        if (parse_uint(arg, BENCH_MAX_QUEUES, &n) < 0 || n == 0)
            return bad(name, arg, "1 to 64");
        o->queues = (unsigned)n;
        return 0;
    case 't':
        errno = 0;
        o->seconds = strtod(arg, &end);
        if (errno || *end || end == arg || !(o->seconds > 0) || o->seconds > 86400)
            return bad(name, arg, "seconds, more than 0");
        return 0;
    case 'S':
        if (bench_parse_size(arg, &v) < 0 || v == 0)
            return bad(name, arg, "a size in bytes (K, M, G, T suffixes)");
        o->size = v;
        return 0;
    case OPT_QUEUE_SIZE:
        if (parse_uint(arg, 32768, &n) < 0 || n == 0)
            return bad(name, arg, "1 to 32768");
        o->queue_size = (uint16_t)n;
        return 0;
    case 'P': o->packed = true; return 0;
    case 'I': o->indirect = true; return 0;
    case 'p': o->poll = true; return 0;
    case 'j': o->json = true; return 0;
    case 'Q': o->quiet = true; return 0;
    case OPT_SEED:
        if (parse_uint(arg, ~0ul, &n) < 0)
            return bad(name, arg, "a number");
        o->seed = n;
        return 0;
    case OPT_CONNECT_TIMEOUT:
        if (parse_uint(arg, 3600000, &n) < 0)
            return bad(name, arg, "milliseconds");
        o->connect_ms = (int)n;
        return 0;
    case 'h':
        usage(stdout);
        return 1;
    default:
        usage(stderr);
        return -EINVAL;
    }
}

int bench_options_parse(int argc, char **argv, struct bench_options *o)
{
    int opt, ret;

    *o = (struct bench_options){
        .rw = BENCH_RANDREAD, .bs = 4096, .iodepth = 1, .queues = 1,
        .seconds = 5, .seed = 1, .connect_ms = 5000,
    };
    optind = 0;          /* a fresh scan, also when called again (tests) */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "vdev-bench: unknown option or missing value: %s "
                    "(see --help)\n", argv[optind - 1]);
            return -EINVAL;
        }
        ret = parse_one(opt, optarg, o);
        if (ret)
            return ret;
    }
    if (optind < argc) {
        fprintf(stderr, "vdev-bench: unexpected argument: %s\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->socket) {
        fprintf(stderr, "vdev-bench: --socket PATH is required (see --help)\n");
        return -EINVAL;
    }
    if (o->size && o->size < o->bs)
        return bad("size", "", "smaller than --bs");
    return 0;
}
