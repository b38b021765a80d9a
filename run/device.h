/* device.h — the device a command runs on, from the text a user gives (`--device cpu`,
 * `cuda`, `cuda:N`; torch.device's spelling), checked against the CUDA devices this libtorch
 * sees; and, for the commands that train, the data-parallel group this process belongs to
 * (torchrun's or Slurm's environment; one process: a group of one). */
#ifndef LM_DEVICE_H
#define LM_DEVICE_H

#include "shim/lt.h"
#include "train/ddp.h"

/* Parses "cpu", "cuda", "cuda:N". 0, or LM_EINVAL naming the text. */
int lm_parse_device(lt_device *out, const char *s);

/* Parses device, reads this process's rank from the environment (train/ddp.h
 * lm_ddp_opts_from_env), places a CUDA rank on its GPU (`cuda` means cuda:LOCAL_RANK;
 * lm_ddp_place) and joins the group (lm_ddp_create). *ddp is for lm_ddp_free. */
int lm_device_open(lt_device *dev, lm_ddp **ddp, const char *device);

#endif
