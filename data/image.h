/* image.h — image decode (PNG via libpng, JPEG via libjpeg-turbo) and PNG encode.
 * Pixels are interleaved HWC uint8. 8/16-bit, gray, gray+alpha, RGB, RGBA and palette
 * inputs are converted to the channel count asked for (3: RGB, alpha dropped;
 * 1: grayscale with the ITU-R 601 luma weights, as PIL's convert('L')). */
#ifndef LM_IMAGE_H
#define LM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_image {
    int w, h, c;   /* c = 1 or 3 */
    uint8_t *data; /* (h, w, c), owned */
} lm_image;

/* Reads PNG or JPEG (detected from the bytes, not the extension). Errors name the file.
 * JPEG EXIF orientation is applied, as cv2.imread does. */
int lm_image_read(lm_image *out, const char *path, int channels);
/* Decodes from memory; name is used in messages. */
int lm_image_decode(lm_image *out, const void *bytes, size_t n, int channels, const char *name);
/* Writes an 8-bit PNG (gray or RGB); atomic: temp file then rename. */
int lm_image_write_png(const char *path, const lm_image *img);
/* Encodes an 8-bit PNG (gray or RGB) into a new malloc'd buffer *out of *n bytes (free()). */
int lm_image_encode_png(uint8_t **out, size_t *n, const lm_image *img);
int lm_image_alloc(lm_image *out, int w, int h, int c);
void lm_image_free(lm_image *img); /* accepts NULL and zeroed images */

/* Format from the magic bytes. */
enum { LM_IMAGE_UNKNOWN = 0, LM_IMAGE_PNG = 1, LM_IMAGE_JPEG = 2 };
int lm_image_sniff(const void *bytes, size_t n);
/* out = in[y:y+h, x:x+w] (new buffer). */
int lm_image_crop(lm_image *out, const lm_image *in, int x, int y, int w, int h);
/* Resizes to w x h like PIL's Image.resize((w, h), BICUBIC) (antialiased when shrinking). */
int lm_image_resize_bicubic(lm_image *out, const lm_image *in, int w, int h);

#endif
