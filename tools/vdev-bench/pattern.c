/* pattern.c — the verify pattern: a 64-bit mix of (offset, generation). */
#include <string.h>

#include "pattern.h"

/* SplitMix64's finaliser: every input bit flips about half the output bits. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t gen_key(uint32_t gen)
{
    return mix64(0x9e3779b97f4a7c15ull * ((uint64_t)gen + 1));
}

uint64_t bench_pattern_word(uint64_t off, uint32_t gen)
{
    return mix64(off ^ gen_key(gen));
}

void bench_pattern_fill(void *buf, uint32_t len, uint64_t off, uint32_t gen)
{
    uint64_t key = gen_key(gen);
    uint8_t *p = buf;

    for (uint32_t i = 0; i + 8 <= len; i += 8) {
        uint64_t w = mix64((off + i) ^ key);
        memcpy(p + i, &w, 8);
    }
}

int64_t bench_pattern_check(const void *buf, uint32_t len, uint64_t off, uint32_t gen)
{
    uint64_t key = gen_key(gen);
    const uint8_t *p = buf;

    for (uint32_t i = 0; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        if (w != mix64((off + i) ^ key))
            return i;
    }
    return -1;
}
