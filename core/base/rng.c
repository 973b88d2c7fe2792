/* rng.c - xoshiro256** seeded by SplitMix64 (see rng.h for the exact definition). */
#include "base/rng.h"

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void cq_rng_seed(cq_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        r->s[i] = z ^ (z >> 31);
    }
}

uint64_t cq_rng_next(cq_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t cq_rng_below(cq_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t lim = (0 - n) % n; /* (2^64 - n) mod n == 2^64 mod n */
    uint64_t x;
    do
        x = cq_rng_next(r);
    while (x < lim);
    return x % n;
}

void cq_rng_shuffle(cq_rng *r, int64_t *a, int64_t n, int64_t k)
{
    if (k > n - 1)
        k = n - 1;
    for (int64_t i = 0; i < k; i++) {
        int64_t j = i + (int64_t)cq_rng_below(r, (uint64_t)(n - i));
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
