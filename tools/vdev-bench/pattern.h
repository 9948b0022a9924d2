/* pattern.h — the data --rw verify writes and checks.
 *
 * Every 8-byte word of the disk gets a value derived from its byte offset on the
 * disk and the generation of the write that put it there, so a read that
 * returns another block's data, an older generation, or torn or shifted data is
 * told apart from the right data. */
#ifndef VDEV_BENCH_PATTERN_H
#define VDEV_BENCH_PATTERN_H

#include <stdint.h>

/* The word at disk byte offset off (a multiple of 8) for generation gen. */
uint64_t bench_pattern_word(uint64_t off, uint32_t gen);

/* Fills len bytes (a multiple of 8) that go at disk byte offset off. */
void bench_pattern_fill(void *buf, uint32_t len, uint64_t off, uint32_t gen);

/* -1 when buf holds the pattern, else the byte index in buf of the first word
 * that differs. */
int64_t bench_pattern_check(const void *buf, uint32_t len, uint64_t off, uint32_t gen);

#endif
