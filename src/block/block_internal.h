/* block_internal.h — what the block layer's files share: the backend, the
 * request, the context, and the driver interface a backend implements. */
#ifndef VDEV_BLOCK_INTERNAL_H
#define VDEV_BLOCK_INTERNAL_H

#include <liburing.h>
#include <stdatomic.h>

#include "vdev/block.h"

enum blk_op {
    BLK_OP_READ,
    BLK_OP_WRITE,
    BLK_OP_FLUSH,
    BLK_OP_DISCARD,
    BLK_OP_WRITE_ZEROES,
};

struct blk_req;

/* The options of a spec, parsed (spec.c). */
#define BLK_SPEC_MAX_OPTS 8

struct blk_spec {
    char driver[16];
    unsigned n;
    struct { char *key, *value; } opt[BLK_SPEC_MAX_OPTS];
    char *buf;                      /* owns every key and value */
};

/* A backend driver. start() issues r (again, after a short transfer): it takes an
 * SQE with blk_ctx_sqe() or finishes r with blk_req_finish(). cqe() gets the
 * result of r's SQE. */
struct blk_driver {
    const char *name;
    int  (*open)(struct vdev_blk *b, const struct blk_spec *s, bool read_only);
    void (*close)(struct vdev_blk *b);
    void (*start)(struct blk_req *r);
    void (*cqe)(struct blk_req *r, int res);
};

struct vdev_blk {
    const struct blk_driver *drv;
    struct vdev_blk_info info;
    int fd;                         /* file: the image; -1 otherwise */
    bool is_bdev;
    uint32_t mem_align;             /* direct: buffer alignment O_DIRECT needs */
    atomic_bool no_zero_range;      /* the filesystem refused FALLOC_FL_ZERO_RANGE:
                                     * write zeroes with writes from then on */
    void *priv;                     /* a driver's own */
};

/* One request, from submit to callback. Owned by its context; cached there. */
struct blk_req {
    struct vdev_blk_ctx *ctx;
    struct vdev_blk *blk;
    enum blk_op op;
    unsigned flags;                 /* VDEV_BLK_FUA, VDEV_BLK_UNMAP */
    unsigned stage;                 /* a driver's step within a request */
    unsigned retries;               /* -EAGAIN / -EINTR in a row */
    uint64_t offset, len;           /* what is left to do */
    struct iovec *iov;              /* what is left to transfer: into iov_store */
    unsigned iovcnt;
    struct iovec *iov_store;        /* the request's own copy of the iovecs */
    unsigned iov_cap;
    unsigned iov_total;             /* iovecs the caller gave */
    uint64_t total_len;             /* bytes the caller asked for */
    void *bounce;                   /* direct I/O through an aligned copy */
    struct iovec bounce_iov;
    uint64_t seq;                   /* writes: order of submission; flush: the last
                                     * write it covers */
    vdev_blk_cb cb;
    void *opaque;
    int result;
    struct blk_req *next;           /* pending, done, flush-wait or cache list */
    struct blk_req *wprev, *wnext;  /* the context's writes in flight */
};

struct blk_list {
    struct blk_req *head, **tail;
};

struct vdev_blk_ctx {
    struct io_uring ring;
    int efd;
    unsigned cq_entries;
    unsigned in_ring;               /* SQEs taken whose CQE is not reaped yet */
    unsigned inflight;              /* accepted, callback not run yet */
    bool has_fallocate;             /* IORING_OP_FALLOCATE */
    bool signalled;                 /* efd written for the done list */
    struct blk_list pending;        /* waiting for room in the ring */
    struct blk_list done;           /* finished, callback to run */
    struct blk_list flushes;        /* waiting for earlier writes */
    struct blk_req *writes_head, *writes_tail;  /* oldest first */
    struct blk_req *cache;
    unsigned ncache;
    bool in_pending;                /* starting requests off the pending list */
    uint64_t seq;
};

/* ctx.c */
/* An SQE for r with user_data set, or NULL when the ring is full: r then waits on
 * the pending list and start() is called again when there is room. */
struct io_uring_sqe *blk_ctx_sqe(struct blk_req *r);
/* r is done: off the write list, onto the done list (callback at the next reap). */
void blk_req_finish(struct blk_req *r, int result);
/* Issues r through its driver (start). */
void blk_req_start(struct blk_req *r);
/* Accepts r: counts it, orders it, starts it. */
void blk_ctx_accept(struct vdev_blk_ctx *c, struct blk_req *r);
struct blk_req *blk_req_get(struct vdev_blk_ctx *c);
/* Back to the cache (or freed): a request never accepted, or one whose callback
 * is about to run. */
void blk_req_put(struct vdev_blk_ctx *c, struct blk_req *r);
/* Makes r->iov_store hold n iovecs. 0 or -ENOMEM. */
int  blk_req_iov_reserve(struct blk_req *r, unsigned n);

/* iov.c */
/* Drops the first n bytes of r->iov. */
void blk_iov_advance(struct blk_req *r, uint64_t n);
uint64_t blk_iov_length(const struct iovec *iov, unsigned iovcnt);
void blk_iov_zero(const struct iovec *iov, unsigned iovcnt);
/* Copies between the iovecs and a flat buffer of len bytes. */
void blk_iov_to_buf(const struct iovec *iov, unsigned iovcnt, void *buf, uint64_t len);
void blk_iov_from_buf(const struct iovec *iov, unsigned iovcnt, const void *buf,
                      uint64_t len);

/* spec.c */
int  blk_spec_parse(const char *spec, struct blk_spec *s);
void blk_spec_free(struct blk_spec *s);
/* The value of key, or NULL. */
const char *blk_spec_get(const struct blk_spec *s, const char *key);
/* "on" / "off" into *out (left alone when the key is absent). -EINVAL otherwise. */
int  blk_spec_bool(const struct blk_spec *s, const char *key, bool *out);
/* A byte count with an optional K, M, G, T suffix. -EINVAL if malformed. */
int  blk_spec_size(const char *text, uint64_t *out);
/* -EINVAL (and a log line) if a key is not one of the NULL-terminated keys. */
int  blk_spec_check_keys(const struct blk_spec *s, const char *const *keys);

/* blk.c: a backend from a driver, for the drivers and for tests. */
int  blk_new(const struct blk_driver *drv, struct vdev_blk **out);

/* file_io.c: the file driver's I/O (file.c opens). */
void blk_file_start(struct blk_req *r);
void blk_file_cqe(struct blk_req *r, int res);

extern const struct blk_driver blk_file_driver;
extern const struct blk_driver blk_null_driver;

#endif
