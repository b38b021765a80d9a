/* imath.h — small integer helpers shared by the model builders (channel counts capped at
 * max_features: min(max_features, ngf * mult) in the official generators). */
#ifndef LM_IMATH_H
#define LM_IMATH_H

/* The smaller of a and b (Python's min on two ints). */
static inline int lm_imath_min(int a, int b) { return a < b ? a : b; }

#endif
