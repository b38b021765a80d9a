/* pkwrite.h — a pickle writer (protocol 2), the opcodes CPython's Lib/pickle.py _Pickler
 * emits for the values torch.save writes (torch/serialization.py _save): None, bools, ints,
 * floats, str, tuples, empty dicts/lists filled with SETITEMS/APPENDS, globals (GLOBAL,
 * memoized once like pickle does), REDUCE, BINPERSID. It writes opcodes only; what they mean
 * (an OrderedDict, a tensor rebuild) is io/pthwrite.c's business. Memo indices are assigned
 * in order (BINPUT < 256, LONG_BINPUT above); pk_w_get re-uses one (BINGET/LONG_BINGET). */
#ifndef LM_PKWRITE_H
#define LM_PKWRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pk_writer {
    uint8_t *buf;
    size_t n, cap;
    int oom;                 /* sticky: any append failed */
    uint32_t memo;           /* next memo index */
    char **gname;            /* memoized globals "module\nname" */
    uint32_t *gmemo;
    int ng, capg;
} pk_writer;

void pk_w_init(pk_writer *w);   /* writes PROTO 2 */
void pk_w_free(pk_writer *w);

uint32_t pk_w_put(pk_writer *w);               /* memoizes the top of the stack; returns its index */
void pk_w_get(pk_writer *w, uint32_t idx);     /* pushes a memoized value */
void pk_w_op(pk_writer *w, uint8_t op);        /* a bare opcode: MARK, TUPLE, REDUCE, SETITEMS, ... */
void pk_w_none(pk_writer *w);
void pk_w_bool(pk_writer *w, int v);
void pk_w_int(pk_writer *w, int64_t v);        /* BININT1/BININT2/BININT/LONG1 as pickle chooses */
void pk_w_float(pk_writer *w, double v);       /* BINFLOAT */
void pk_w_str(pk_writer *w, const char *s, size_t n); /* BINUNICODE + BINPUT (n bytes of UTF-8) */
void pk_w_global(pk_writer *w, const char *module, const char *name); /* GLOBAL + BINPUT, BINGET after */
void pk_w_int_tuple(pk_writer *w, const int64_t *v, int n); /* EMPTY_TUPLE, TUPLE1..3, MARK..TUPLE (+BINPUT) */
void pk_w_stop(pk_writer *w);
/* 0, or LM_ENOMEM with a message if any append failed. */
int pk_w_status(const pk_writer *w);

/* Opcodes used by callers of pk_w_op. */
enum {
    PKW_MARK = '(', PKW_STOP = '.', PKW_TUPLE = 't', PKW_EMPTY_TUPLE = ')', PKW_EMPTY_DICT = '}',
    PKW_EMPTY_LIST = ']', PKW_SETITEM = 's', PKW_SETITEMS = 'u', PKW_APPEND = 'a', PKW_APPENDS = 'e',
    PKW_REDUCE = 'R', PKW_BINPERSID = 'Q', PKW_TUPLE1 = 0x85, PKW_TUPLE2 = 0x86, PKW_TUPLE3 = 0x87
};

#endif
