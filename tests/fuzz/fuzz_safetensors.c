/* fuzz_safetensors.c — libFuzzer target: io/safetensors header parsing on arbitrary bytes.
 * Build: tests/fuzz/run.sh (clang), or cmake -DLAMAC_FUZZ=ON with CC=clang. */
#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_st_file *f = NULL;
    if (lm_st_open_buffer(&f, data, size, "fuzz") == 0) {
        volatile uint8_t acc = 0;
        for (int i = 0; i < lm_st_count(f); i++) {
            const lm_st_entry *e = lm_st_get(f, i);
            if (lm_st_find(f, e->name) != e) __builtin_trap();
            for (size_t j = 0; j < e->nbytes; j++) acc ^= ((const uint8_t *)e->data)[j];
        }
        const char *k, *v;
        for (int i = 0; i < lm_st_meta_count(f); i++)
            if (lm_st_meta_get(f, i, &k, &v) == 0 && lm_st_meta(f, k) == NULL) __builtin_trap();
        lm_st_close(f);
    }
    return 0;
}
