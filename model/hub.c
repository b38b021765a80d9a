/* hub.c — torch hub's cache layout for pretrained files (torch.hub.get_dir). */
#include "model/hub.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"

int lm_torch_home(char *out, size_t cap) {
    const char *th = getenv("TORCH_HOME"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (th && *th) n = snprintf(out, cap, "%s", th);
    else if (xdg && *xdg) n = snprintf(out, cap, "%s/torch", xdg);
    else n = snprintf(out, cap, "%s/.cache/torch", home && *home ? home : ".");
    if (n < 0 || (size_t)n >= cap) return lm_err_code(LM_EINVAL, "torch home path too long");
    return 0;
}

int lm_hub_path(char *out, size_t cap, const char *name) {
    char home[4096];
    if (lm_torch_home(home, sizeof home) < 0) return LM_EINVAL;
    int n = snprintf(out, cap, "%s/hub/checkpoints/%s", home, name);
    if (n < 0 || (size_t)n >= cap)
        return lm_err_code(LM_EINVAL, "pretrained path too long: %s/hub/checkpoints/%s", home, name);
    return 0;
}
