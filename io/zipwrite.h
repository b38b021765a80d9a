/* zipwrite.h — writes a zip archive the way PyTorch's PyTorchStreamWriter (torch.save since
 * 1.6, miniz underneath) does: stored entries (no compression), each entry's data aligned to
 * 64 bytes by an extra field "FB" padded with 'Z', local headers with zero CRC/sizes and the
 * general-purpose flags 0x0808 followed by a data descriptor, a central directory, a ZIP64
 * end-of-central-directory record + locator, and the classic end record. Entries are written
 * as they are added; the file appears at its path only on lm_zipwrite_close (core/atomic.h: temp
 * file, fsync, rename). Archives past 4 GiB (which need ZIP64 entry fields) are refused. */
#ifndef LM_ZIPWRITE_H
#define LM_ZIPWRITE_H

#include <stddef.h>
#include <stdint.h>

#define LM_ZIPWRITE_ALIGN 64 /* PyTorch's kFieldAlignment */

typedef struct lm_zipwrite lm_zipwrite;

int lm_zipwrite_open(lm_zipwrite **out, const char *path);
/* Adds one stored entry. A data pointer may be NULL when n == 0. */
int lm_zipwrite_add(lm_zipwrite *z, const char *name, const void *data, size_t n);
/* Writes the directory and renames the file into place; frees z in every case. */
int lm_zipwrite_close(lm_zipwrite *z);
/* Frees z and removes its temporary file (NULL ok). */
void lm_zipwrite_abort(lm_zipwrite *z);

/* CRC-32 (ISO-HDLC, as zip uses), continued from crc (0 to start). */
uint32_t lm_crc32(uint32_t crc, const void *p, size_t n);

#endif
