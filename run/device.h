/* device.h — the device a command runs on, from the text a user gives (`--device cpu`,
 * `cuda`, `cuda:N`; torch.device's spelling), checked against the CUDA devices this libtorch
 * sees. Used by every command that builds networks. */
#ifndef LM_DEVICE_H
#define LM_DEVICE_H

#include "shim/lt.h"

/* Parses "cpu", "cuda", "cuda:N". 0, or LM_EINVAL naming the text. */
int lm_parse_device(lt_device *out, const char *s);

#endif
