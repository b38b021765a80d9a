/* flags.h — integer values of command-line flags (--count 10, --threads 4): the whole
 * string must be a base-10 integer within [lo, hi]; garbage, an empty value, a trailing
 * character or an overflow is an error naming the flag, never a silent 0 or a wrapped
 * value. Mirrors argparse's type=int. */
#ifndef LM_FLAGS_H
#define LM_FLAGS_H

/* Parses v into *out; returns 0, or LM_EINVAL with the message
 * "<flag>: expected an integer in <lo>..<hi>, got '<v>'" (*out untouched). */
int lm_flag_long(const char *flag, const char *v, long lo, long hi, long *out);
int lm_flag_int(const char *flag, const char *v, int lo, int hi, int *out);

#endif
