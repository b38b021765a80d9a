/* fuzz_pth.c — libFuzzer target: io/pth (zip reader, legacy framing, data-only
 * unpickler, tensor materialisation) on arbitrary bytes. Seeds: tests/fixtures/weights.
 * Build: tests/fuzz/run.sh (clang), or cmake -DLAMAC_FUZZ=ON with CC=clang. */
#include <stddef.h>
#include <stdint.h>

#include "io/pth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_pth *p = NULL;
    if (lm_pth_load_buffer(&p, data, size, "fuzz", LM_PTH_OPAQUE_UNKNOWN) == 0) {
        volatile uint8_t acc = 0;
        for (int i = 0; i < lm_pth_count(p); i++) {
            const lm_safetensors_entry *e = lm_pth_get(p, i);
            if (lm_pth_find(p, e->name) != e) __builtin_trap();
            for (size_t j = 0; j < e->nbytes; j++) acc ^= ((const uint8_t *)e->data)[j];
        }
        lm_pth_free(p);
    }
    return 0;
}
