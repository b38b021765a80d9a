/* pickle.h — a data-only Python pickle reader (protocols 0-5, the opcodes torch.save and
 * Python 2/3 pickle emit), used by io/pth.c. Internal to model/.
 *
 * It builds a tree of plain values and NEVER calls anything: GLOBAL only names a class or
 * function, REDUCE/NEWOBJ/BUILD on it yield either a known data value (OrderedDict -> dict,
 * torch._utils._rebuild_tensor_v2 -> tensor, set -> set, ...) or an opaque object node.
 * Globals are checked against a policy: known data classes are accepted, obviously
 * executable ones (os.system, builtins.eval, subprocess.*, ...) are always refused, others
 * are refused unless PK_OPAQUE_UNKNOWN is set. Persistent ids (torch storages) go to a
 * callback. Every read is bounds-checked; the memo, stack and nesting are limited. */
#ifndef LM_PICKLE_H
#define LM_PICKLE_H

#include <stddef.h>
#include <stdint.h>

typedef enum pk_type {
    PK_NONE, PK_BOOL, PK_INT, PK_BIGINT, PK_FLOAT, PK_STR, PK_BYTES,
    PK_LIST, PK_TUPLE, PK_DICT, PK_SET, PK_GLOBAL, PK_OBJ, PK_STORAGE, PK_TENSOR, PK_MARK
} pk_type;

/* What a GLOBAL names (PK_GLOBAL nodes). */
typedef enum pk_gkind {
    PKG_OPAQUE, PKG_ORDEREDDICT, PKG_DICT, PKG_LIST, PKG_SET, PKG_FROZENSET, PKG_REBUILD_TENSOR,
    PKG_REBUILD_TENSOR_V2, PKG_REBUILD_TENSOR_V3, PKG_REBUILD_PARAMETER, PKG_REBUILD_PARAMETER_STATE,
    PKG_STORAGE, PKG_DTYPE, PKG_DEFAULTDICT
} pk_gkind;

typedef struct pk_node pk_node;
struct pk_node {
    int type;              /* pk_type */
    pk_node *next_alloc;   /* arena list */
    int64_t i;             /* INT, BOOL; GLOBAL: gkind; STORAGE: view offset (elements) */
    double f;              /* FLOAT */
    char *s;               /* STR/BYTES/BIGINT (little-endian two's complement) payload;
                              GLOBAL: "module.name"; STORAGE: key */
    size_t slen;
    int dtype;             /* GLOBAL (STORAGE/DTYPE kinds), STORAGE, TENSOR: lm_dtype */
    pk_node **items;       /* LIST/TUPLE/SET items; DICT: key0,val0,key1,val1...;
                              OBJ: [callable, args, state]; TENSOR: [storage] */
    size_t n, cap;         /* item count (DICT: 2 x pairs) */
    /* STORAGE: data (bound later), numel of the (view) storage in elements */
    const uint8_t *data;
    int64_t numel;
    /* TENSOR */
    int64_t offset;        /* storage offset, elements */
    int ndim;
    int64_t *size, *stride; /* ndim each, one allocation owned by the node */
};

typedef struct pk_arena { pk_node *all; size_t count; } pk_arena;
void pk_arena_free(pk_arena *a);
pk_node *pk_new(pk_arena *a, int type); /* NULL on OOM (message set) */

#define PK_OPAQUE_UNKNOWN 1u  /* accept classes outside the known list as opaque objects */

/* Called for BINPERSID/PERSID with the persistent id; sets *out (an arena node). */
typedef int (*pk_persid_fn)(void *ud, pk_arena *a, pk_node *pid, pk_node **out);

/* Unpickles one pickle from buf[0..len); *used = bytes consumed up to and including STOP. */
int pk_load(pk_arena *a, const uint8_t *buf, size_t len, unsigned flags, pk_persid_fn persid,
            void *ud, pk_node **out, size_t *used);

/* Dict lookup by string key (NULL if absent or d not a dict). */
pk_node *pk_dict_get(const pk_node *d, const char *key);
/* 1 if n is a STR equal to s. */
int pk_is_str(const pk_node *n, const char *s);

#endif
