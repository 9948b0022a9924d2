/* verify.h — what --rw verify knows of the disk: per block, the generation last
 * written there and whether it was read back since.
 *
 * Timed phase: a block not in flight is picked at random; it is written with
 * the next generation when it was never written or was read back since its
 * last write, else it is read back and compared. No two requests on one block
 * are ever in flight together (the device may reorder them, 5.2.6.4). After the
 * timed phase, every block written and not yet read back is read back, so each
 * write is checked once. */
#ifndef VDEV_BENCH_VERIFY_H
#define VDEV_BENCH_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

struct bench_verify {
    uint64_t nblocks;
    uint32_t bs;
    uint32_t *gen;             /* last generation written (completed), 0 never */
    uint8_t *state;            /* VERIFY_BUSY, VERIFY_CHECKED */
    uint64_t sweep;            /* read-back phase: the next block to look at */
    uint64_t bytes_written, bytes_verified;
    uint64_t mismatches;
};

/* -ENOMEM, -E2BIG (over 2^28 blocks: use a larger --bs or a smaller --size). */
int  bench_verify_init(struct bench_verify *v, uint64_t nblocks, uint32_t bs);
void bench_verify_fini(struct bench_verify *v);

/* Timed phase: the next request, from a random number. The block is marked in
 * flight. Needs fewer requests in flight than blocks. */
void bench_verify_next(struct bench_verify *v, uint64_t rnd, uint64_t *block,
                       bool *write, uint32_t *gen);
/* Read-back phase: the next block written and not read back since, not in
 * flight; false when there is none left. The block is marked in flight. */
bool bench_verify_next_unchecked(struct bench_verify *v, uint64_t *block,
                                 uint32_t *gen);

/* A write of gen to block completed. */
void bench_verify_written(struct bench_verify *v, uint64_t block, uint32_t gen);
/* A read of block completed with buf: 0, or -EILSEQ after a line on stderr
 * that says where it differs and what it looks like. */
int  bench_verify_read(struct bench_verify *v, uint64_t block, uint32_t gen,
                       const void *buf);
/* A request on block failed: no longer in flight, nothing learnt. */
void bench_verify_abort(struct bench_verify *v, uint64_t block);

#endif
