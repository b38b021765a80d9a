/* rng.h — counter-based random numbers for the data side (DESIGN.md §7).
 *
 * A stream is keyed by (seed, epoch, sample index, purpose): every draw is a pure
 * function of the key and a counter, so results do not depend on thread count or on
 * the order in which samples are produced, and a resumed run continues exactly.
 *     lm_rng r; lm_rng_init(&r, seed, epoch, idx, LM_RNG_MASK);
 *     int k = lm_rng_randint(&r, 1, 6);   // numpy-style: 1..5
 * Model init and dropout use libtorch's generator instead (lt_manual_seed). */
#ifndef LM_RNG_H
#define LM_RNG_H

#include <stdint.h>

typedef struct lm_rng {
    uint64_t key; /* hash of (seed, epoch, sample, purpose) */
    uint64_t ctr; /* draws made so far */
} lm_rng;

/* Purposes: separate streams for separate uses of one sample. */
enum { LM_RNG_CROP = 1, LM_RNG_AUG = 2, LM_RNG_MASK = 3, LM_RNG_SHUFFLE = 4, LM_RNG_EVAL = 5 };

void lm_rng_init(lm_rng *r, uint64_t seed, uint64_t epoch, uint64_t sample, uint32_t purpose);
uint64_t lm_rng_u64(lm_rng *r);
double lm_rng_uniform(lm_rng *r);                          /* [0, 1) with 53 bits */
double lm_rng_range(lm_rng *r, double lo, double hi);      /* [lo, hi) */
int64_t lm_rng_randint(lm_rng *r, int64_t lo, int64_t hi); /* [lo, hi), hi > lo */
double lm_rng_normal(lm_rng *r);                           /* N(0, 1), Box-Muller */

#endif
