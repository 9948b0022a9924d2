/* verify.c — the write / read-back bookkeeping of --rw verify. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pattern.h"
#include "verify.h"

#define VERIFY_BUSY     0x1
#define VERIFY_CHECKED  0x2
#define VERIFY_MAX_BLOCKS (1ull << 28)

int bench_verify_init(struct bench_verify *v, uint64_t nblocks, uint32_t bs)
{
    *v = (struct bench_verify){ .nblocks = nblocks, .bs = bs };
    if (nblocks == 0 || nblocks > VERIFY_MAX_BLOCKS)
        return -E2BIG;
    v->gen = calloc(nblocks, sizeof(*v->gen));
    v->state = calloc(nblocks, 1);
    if (!v->gen || !v->state) {
        bench_verify_fini(v);
        return -ENOMEM;
    }
    return 0;
}

void bench_verify_fini(struct bench_verify *v)
{
    free(v->gen);
    free(v->state);
    v->gen = NULL;
    v->state = NULL;
}

static uint64_t pick_free(const struct bench_verify *v, uint64_t rnd)
{
    uint64_t b = (uint64_t)(((unsigned __int128)rnd * v->nblocks) >> 64);

    /* Few blocks are in flight: the first pick is almost always free; else
     * the next free one after it (there is one: fewer in flight than blocks). */
    for (uint64_t n = 0; n < v->nblocks && (v->state[b] & VERIFY_BUSY); n++)
        b = b + 1 == v->nblocks ? 0 : b + 1;
    return b;
}

void bench_verify_next(struct bench_verify *v, uint64_t rnd, uint64_t *block,
                       bool *write, uint32_t *gen)
{
    uint64_t b = pick_free(v, rnd);

    *block = b;
    *write = v->gen[b] == 0 || (v->state[b] & VERIFY_CHECKED);
    *gen = *write ? v->gen[b] + 1 : v->gen[b];
    if (*gen == 0)                      /* wrapped: 0 means never written */
        *gen = 1;
    v->state[b] |= VERIFY_BUSY;
}

bool bench_verify_next_unchecked(struct bench_verify *v, uint64_t *block, uint32_t *gen)
{
    for (; v->sweep < v->nblocks; v->sweep++) {
        uint64_t b = v->sweep;

        if (v->gen[b] && !(v->state[b] & (VERIFY_BUSY | VERIFY_CHECKED))) {
            v->state[b] |= VERIFY_BUSY;
            *block = b;
            *gen = v->gen[b];
            v->sweep++;
            return true;
        }
    }
    return false;
}

void bench_verify_written(struct bench_verify *v, uint64_t block, uint32_t gen)
{
    v->gen[block] = gen;
    v->state[block] = 0;                /* not busy, not read back */
    /* Written behind the read-back phase's cursor: look there again. */
    if (block < v->sweep)
        v->sweep = block;
    v->bytes_written += v->bs;
}

/* What the wrong data looks like, for the error line. */
static const char *diagnose(const struct bench_verify *v, uint64_t block, uint32_t gen,
                            const void *buf)
{
    uint64_t off = block * v->bs;
    const uint64_t *w = buf;
    bool zero = true;

    for (uint32_t i = 0; i < v->bs / 8 && zero; i++)
        zero = w[i] == 0;
    if (zero)
        return "all zeroes (a null back-end, or the write was lost)";
    if (gen > 1 && bench_pattern_check(buf, v->bs, off, gen - 1) < 0)
        return "the previous generation (the last write was lost)";
    for (uint64_t b = 0; b < v->nblocks; b++)
        if (b != block && v->gen[b] && w[0] == bench_pattern_word(b * v->bs, v->gen[b]))
            return "another block's data (misplaced write or read)";
    return "unrecognised data";
}

int bench_verify_read(struct bench_verify *v, uint64_t block, uint32_t gen,
                      const void *buf)
{
    uint64_t off = block * v->bs;
    int64_t at = bench_pattern_check(buf, v->bs, off, gen);

    v->state[block] &= (uint8_t)~VERIFY_BUSY;
    if (at >= 0) {
        uint64_t got;

        __builtin_memcpy(&got, (const uint8_t *)buf + at, 8);
        v->mismatches++;
        fprintf(stderr, "vdev-bench: verify: block %" PRIu64 " (offset %" PRIu64
                "), byte %" PRId64 ": 0x%016" PRIx64 ", expected 0x%016" PRIx64
                " (generation %" PRIu32 "); the block holds %s\n", block, off, at, got,
                bench_pattern_word(off + (uint64_t)at, gen), gen,
                diagnose(v, block, gen, buf));
        return -EILSEQ;
    }
    v->state[block] |= VERIFY_CHECKED;
    v->bytes_verified += v->bs;
    return 0;
}

void bench_verify_abort(struct bench_verify *v, uint64_t block)
{
    v->state[block] &= (uint8_t)~VERIFY_BUSY;
}
