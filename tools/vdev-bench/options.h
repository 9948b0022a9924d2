/* options.h — vdev-bench's command line, fio in spirit. */
#ifndef VDEV_BENCH_OPTIONS_H
#define VDEV_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

enum bench_rw {
    BENCH_RANDREAD,
    BENCH_RANDWRITE,
    BENCH_READ,
    BENCH_WRITE,
    BENCH_VERIFY,      /* write a pattern, read it back, compare */
};

enum bench_transport_kind {
    BENCH_VHOST_USER,  /* vhost-user-blk (default) */
    BENCH_VFIO_USER,   /* virtio-blk as a virtio-pci function over vfio-user */
};

#define BENCH_MAX_QUEUES   64u
#define BENCH_MAX_IODEPTH  1024u
#define BENCH_MAX_BS       (1u << 20)

struct bench_options {
    const char *socket;     /* the back-end's UNIX socket */
    enum bench_transport_kind transport;
    enum bench_rw rw;
    uint32_t bs;            /* bytes per request, a multiple of 512 */
    unsigned iodepth;       /* requests in flight per queue */
    unsigned queues;
    double seconds;         /* of timed I/O */
    uint64_t size;          /* bytes of the disk used from offset 0; 0: all */
    uint16_t queue_size;    /* ring entries; 0: enough for iodepth, at least 256 */
    bool packed;            /* packed rings (VIRTIO_F_RING_PACKED) */
    bool indirect;          /* each request in one indirect table */
    bool poll;              /* spin on the used ring instead of sleeping on calls */
    bool json;              /* the result as one JSON line on stdout */
    bool quiet;             /* no progress line */
    uint64_t seed;          /* of the offsets' random generator */
    int connect_ms;         /* keep trying to connect for this long */
};

/* Parses argv into o (defaults first). 0, 1 when --help was printed (stdout),
 * or -EINVAL after one line on stderr saying what is wrong. */
int bench_options_parse(int argc, char **argv, struct bench_options *o);

/* "4k", "1M", "512": bytes, with K/M/G/T suffixes (powers of 1024).
 * 0 or -EINVAL (not a number, junk after it, overflow). */
int bench_parse_size(const char *s, uint64_t *out);

const char *bench_rw_name(enum bench_rw rw);
const char *bench_transport_name(enum bench_transport_kind t);

#endif
