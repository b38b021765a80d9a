/* rng.c — counter-based generator: splitmix64 finaliser over (key + counter·φ). */
#include "core/rng.h"

#include <math.h>

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void lm_rng_init(lm_rng *r, uint64_t seed, uint64_t epoch, uint64_t sample, uint32_t purpose) {
    uint64_t k = mix64(seed + 0x9e3779b97f4a7c15ULL);
    k = mix64(k ^ (epoch + 0x632be59bd9b4e019ULL));
    k = mix64(k ^ (sample + 0x8cb92ba72f3d8dd7ULL));
    k = mix64(k ^ ((uint64_t)purpose + 0xd6e8feb86659fd93ULL));
    r->key = k;
    r->ctr = 0;
}

uint64_t lm_rng_u64(lm_rng *r) { return mix64(r->key + (++r->ctr) * 0x9e3779b97f4a7c15ULL); }

double lm_rng_uniform(lm_rng *r) { return (double)(lm_rng_u64(r) >> 11) * 0x1.0p-53; }

double lm_rng_range(lm_rng *r, double lo, double hi) { return lo + (hi - lo) * lm_rng_uniform(r); }

int64_t lm_rng_randint(lm_rng *r, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)(hi - lo);
    if (hi <= lo) return lo;
    /* rejection sampling: unbiased */
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t x;
    do x = lm_rng_u64(r);
    while (x >= limit);
    return lo + (int64_t)(x % span);
}

double lm_rng_normal(lm_rng *r) {
    double u1 = 1.0 - lm_rng_uniform(r); /* (0, 1] */
    double u2 = lm_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
