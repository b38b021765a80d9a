/* device.c — `--device` text to an lt_device, and the data-parallel group (see device.h). */
#include "run/device.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

int lm_parse_device(lt_device *out, const char *s) {
    if (!strcmp(s, "cpu")) {
        *out = LT_CPU;
        return 0;
    }
    int idx = 0;
    if (!strcmp(s, "cuda") || sscanf(s, "cuda:%d", &idx) == 1) {
        int n = lt_cuda_device_count();
        if (idx < 0 || idx >= n)
            return lm_err_code(LM_EINVAL, "device '%s': %s", s,
                               n ? "no such CUDA device" : "this libtorch has no CUDA device");
        *out = LT_CUDA + idx;
        return 0;
    }
    return lm_err_code(LM_EINVAL, "device '%s': expected cpu, cuda or cuda:N", s);
}

int lm_device_open(lt_device *dev, lm_ddp **ddp, const char *device) {
    *ddp = NULL;
    lm_ddp_opts o;
    int rc = lm_parse_device(dev, device);
    if (!rc) rc = lm_ddp_opts_from_env(&o);
    if (!rc) rc = lm_ddp_place(&o, dev, strchr(device, ':') != NULL, lt_cuda_device_count());
    if (!rc) rc = lm_ddp_create(ddp, &o, *dev);
    return rc;
}
