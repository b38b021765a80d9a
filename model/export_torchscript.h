/* STUB (local only) */
#ifndef LM_EXPORT_TS_H
#define LM_EXPORT_TS_H
#include "model/graph.h"
int lm_export_torchscript(const lm_graph *g, const char *path);
#endif
