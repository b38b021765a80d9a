/* fuzz_safetensors.c — libFuzzer target: io/safetensors header parsing on arbitrary bytes.
 * Build: tests/fuzz/run.sh (clang), or cmake -DLAMAC_FUZZ=ON with CC=clang. */
#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_safetensors_file *f = NULL;
    if (lm_safetensors_open_buffer(&f, data, size, "fuzz") == 0) {
        volatile uint8_t acc = 0;
        for (int i = 0; i < lm_safetensors_count(f); i++) {
            const lm_safetensors_entry *e = lm_safetensors_get(f, i);
            if (lm_safetensors_find(f, e->name) != e) __builtin_trap();
            for (size_t j = 0; j < e->nbytes; j++) acc ^= ((const uint8_t *)e->data)[j];
        }
        const char *k, *v;
        for (int i = 0; i < lm_safetensors_meta_count(f); i++)
            if (lm_safetensors_meta_get(f, i, &k, &v) == 0 && lm_safetensors_meta(f, k) == NULL) __builtin_trap();
        lm_safetensors_close(f);
    }
    return 0;
}
