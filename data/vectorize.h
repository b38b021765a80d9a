/* vectorize.h — compiler settings shared by the data-side hot loops (augment.c, color.c).
 * Include it after the other headers, at the top of a .c file.
 *
 * The per-pixel loops are written to vectorise (#pragma omp simd, -O3). GCC refuses to
 * if-convert floating-point selects while it must preserve FP exception flags; nothing here
 * reads them, so the including file drops that guarantee. Results are unchanged.
 *
 * LM_CLONES gives a hot kernel an AVX2 clone picked at run time (GCC function
 * multiversioning, x86-64 only; -DLM_NO_CLONES turns it off). No FMA, so both clones give
 * bit-identical results and the build still targets plain x86-64. */
#ifndef LM_VECTORIZE_H
#define LM_VECTORIZE_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LM_NO_CLONES)
#define LM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LM_CLONES
#endif

#endif
