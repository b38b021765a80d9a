/* presets.c — named mask configurations: "train" is configs/training/data/abl-04-256-mh-dist.yaml
 * (mask_gen_kwargs of data.train), random_{thin,medium,thick}_{256,512} are
 * configs/data_gen/random_*.yaml (mask_generator_kwargs; variants_n, cropping and
 * max_tamper_area belong to the evaluation-set builder, see masks/evalset.h). */
#include <string.h>

#include "core/err.h"
#include "masks/mask.h"

static const char *const g_names[] = {"train",           "random_thin_256",  "random_medium_256",
                                      "random_thick_256", "random_thin_512",  "random_medium_512",
                                      "random_thick_512", NULL};

const char *const *lm_mask_preset_names(void) { return g_names; }

typedef struct { int max_angle, max_len, max_width, min_times, max_times; } irr_p;
typedef struct { double proba; int margin, bmin, bmax, min_times, max_times; } box_p;

static void set(lm_mask_cfg *c, irr_p i, box_p b) {
    lm_mask_cfg_default(c);
    c->irregular_proba = 1;
    c->irregular_kwargs.max_angle = i.max_angle, c->irregular_kwargs.max_len = i.max_len;
    c->irregular_kwargs.max_width = i.max_width, c->irregular_kwargs.min_times = i.min_times;
    c->irregular_kwargs.max_times = i.max_times;
    c->box_proba = b.proba;
    if (b.proba > 0) {
        c->box_kwargs.margin = b.margin, c->box_kwargs.bbox_min_size = b.bmin;
        c->box_kwargs.bbox_max_size = b.bmax, c->box_kwargs.min_times = b.min_times;
        c->box_kwargs.max_times = b.max_times;
    }
    c->segm_proba = 0;
    c->squares_proba = 0;
}

int lm_mask_preset(lm_mask_cfg *out, const char *name) {
    if (!strcmp(name, "train")) set(out, (irr_p){4, 200, 100, 1, 5}, (box_p){1, 10, 30, 150, 1, 4});
    else if (!strcmp(name, "random_thin_256")) set(out, (irr_p){4, 40, 10, 4, 50}, (box_p){0});
    else if (!strcmp(name, "random_medium_256")) set(out, (irr_p){4, 100, 50, 4, 5}, (box_p){0.3, 0, 10, 50, 1, 5});
    else if (!strcmp(name, "random_thick_256")) set(out, (irr_p){4, 200, 100, 1, 5}, (box_p){0.3, 10, 30, 150, 1, 3});
    else if (!strcmp(name, "random_thin_512")) set(out, (irr_p){4, 100, 20, 4, 70}, (box_p){0});
    else if (!strcmp(name, "random_medium_512")) set(out, (irr_p){4, 200, 100, 4, 10}, (box_p){0.3, 0, 30, 150, 1, 5});
    else if (!strcmp(name, "random_thick_512")) set(out, (irr_p){4, 450, 250, 1, 5}, (box_p){0.3, 10, 30, 300, 1, 4});
    else {
        char list[256] = "";
        for (int i = 0; g_names[i]; i++) {
            strcat(list, i ? ", " : "");
            strcat(list, g_names[i]);
        }
        return lm_err_code(LM_EINVAL, "unknown mask preset '%s' (known: %s)", name, list);
    }
    return 0;
}
