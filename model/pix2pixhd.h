/* pix2pixhd.h — internal: the pix2pixhd_global / pix2pixhd_multidilated generators
 * (official pix2pixhd.py GlobalGenerator, MultiDilatedGlobalGenerator) behind lm_generator
 * (model/generator.c). Implemented in model/pix2pixhd.c. */
#ifndef LM_PIX2PIXHD_H
#define LM_PIX2PIXHD_H

#include "model/generator.h"
#include "model/graph.h"

typedef struct lm_pix2pixhd_gen lm_pix2pixhd_gen;

int lm_pix2pixhd_gen_create(lm_pix2pixhd_gen **out, lm_params *p, const lm_generator_opts *o);
lt_tensor *lm_pix2pixhd_gen_forward(lm_pix2pixhd_gen *g, lt_tensor *x, int training);
int lm_pix2pixhd_gen_layers(const lm_pix2pixhd_gen *g);                    /* top-level modules (model.i) */
const char *lm_pix2pixhd_gen_layer_kind(const lm_pix2pixhd_gen *g, int i); /* class name, NULL if out of range */
void lm_pix2pixhd_gen_free(lm_pix2pixhd_gen *g);
int lm_pix2pixhd_gen_emit(const lm_pix2pixhd_gen *g, lm_graph *out); /* model/graph.h */

#endif
