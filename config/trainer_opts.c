/* trainer_opts.c — trainer.* of a composed config -> lm_train_opts (see trainer_opts.h). */
#include "config/trainer_opts.h"

#include <string.h>

#include "core/err.h"

int lm_train_opts_from_cfg(lm_train_opts *o, const lm_cfg *c) {
    *o = lm_train_opts_default();
    int64_t v;
    int b, rc = 0;
    const char *s;
    struct {
        const char *key;
        int64_t *dst;
    } ints[] = {
        {"trainer.kwargs.max_epochs", &o->max_epochs},
        {"trainer.kwargs.max_steps", &o->max_steps},
        {"trainer.kwargs.limit_train_batches", &o->limit_train_batches},
        {"trainer.kwargs.limit_val_batches", &o->limit_val_batches},
        {"trainer.kwargs.val_check_interval", &o->val_check_interval},
        {"trainer.kwargs.check_val_every_n_epoch", &o->check_val_every_n_epoch},
        {"trainer.kwargs.log_every_n_steps", &o->log_every_n_steps},
        {"training_model.visualize_each_iters", &o->visualize_each_iters},
        {"data.val.dataloader_kwargs.batch_size", &o->val_batch_size},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && !rc; i++) rc = lm_cfg_get_int(c, ints[i].key, ints[i].dst);
    if (!rc && !(rc = lm_cfg_get_int(c, "trainer.checkpoint_kwargs.save_top_k", &v))) o->save_top_k = (int)v;
    if (!rc && !(rc = lm_cfg_get_bool(c, "trainer.checkpoint_kwargs.save_last", &b))) o->save_last = b;
    if (!rc && !(rc = lm_cfg_get_str(c, "trainer.checkpoint_kwargs.monitor", &s))) o->monitor = s;
    if (!rc && !(rc = lm_cfg_get_str(c, "trainer.checkpoint_kwargs.mode", &s))) o->monitor_max = !s || strcmp(s, "min");
    if (!rc && !(rc = lm_cfg_get_str(c, "trainer.on_nonfinite", &s)))
        o->on_nonfinite = s && !strcmp(s, "skip") ? LM_NONFINITE_SKIP : LM_NONFINITE_STOP;
    if (!rc && !(rc = lm_cfg_get_int(c, "seed", &v))) o->seed = (uint64_t)v;
    if (!rc && o->max_epochs <= 0 && o->max_steps < 0)
        rc = lm_err_code(LM_EINVAL, "config: trainer.kwargs.max_epochs is 0 and max_steps is not set: the run "
                         "would never end");
    return rc;
}
