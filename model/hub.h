/* hub.h — where pretrained files are looked up (DESIGN §6), as torch.hub does:
 * $TORCH_HOME, else $XDG_CACHE_HOME/torch, else $HOME/.cache/torch; torch hub's file names
 * under hub/checkpoints/. */
#ifndef LM_HUB_H
#define LM_HUB_H

#include <stddef.h>

#define LM_HUB_VGG16 "vgg16-397923af.pth"
#define LM_HUB_VGG19 "vgg19-dcbb9e9d.pth"
#define LM_HUB_ALEXNET "alexnet-owt-7be5be79.pth"
#define LM_HUB_INCEPTION "pt_inception-2015-12-05-6726825d.pth"
#define LM_HUB_FETCH_HINT "scripts/download-weights.sh"

/* out = <torch home>/hub/checkpoints/<name>; error if it does not fit. Does not check that
 * the file exists. */
int lm_hub_path(char *out, size_t cap, const char *name);
/* The torch home directory itself. */
int lm_torch_home(char *out, size_t cap);

#endif
