/*
 * rng.h - the PRNG behind every random choice in calq (xoshiro256**).
 *
 * Same seed, same numbers, on every machine: the generator is pure 64-bit
 * integer arithmetic, fully specified here.
 *
 *   Seeding: the state s[0..3] is four successive outputs of SplitMix64 started
 *   at the seed:  z = (x += 0x9E3779B97F4A7C15);
 *                 z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
 *                 z = (z ^ (z >> 27)) * 0x94D049BB133111EB;  out = z ^ (z >> 31).
 *   Next (xoshiro256**, Blackman & Vigna 2018):
 *                 out = rotl(s1 * 5, 7) * 9;  t = s1 << 17;
 *                 s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 45).
 *   Below(n), a uniform integer in [0, n): draw x = next() until
 *                 x >= (2^64 - n) mod n, then return x mod n (no modulo bias;
 *                 the rejection is rarer than 1 in 2^32 for n < 2^32).
 *
 *     cq_rng r;
 *     cq_rng_seed(&r, 42);
 *     uint64_t die = cq_rng_below(&r, 6) + 1;
 */
#ifndef CQ_RNG_H
#define CQ_RNG_H

#include <stdint.h>

typedef struct cq_rng {
    uint64_t s[4];
} cq_rng;

/* Seed the state from one 64-bit seed (any value, 0 included). */
void cq_rng_seed(cq_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t cq_rng_next(cq_rng *r);
/* Uniform in [0, n); n == 0 returns 0 without drawing. */
uint64_t cq_rng_below(cq_rng *r, uint64_t n);
/* Shuffle a[0..n-1] in place with Fisher-Yates from the front:
 * for i = 0 .. n-2: j = i + below(n - i); swap a[i], a[j]. Only the first k
 * positions are settled when k < n (partial shuffle: a uniform k-subset in
 * random order); k >= n shuffles everything. */
void cq_rng_shuffle(cq_rng *r, int64_t *a, int64_t n, int64_t k);

#endif
