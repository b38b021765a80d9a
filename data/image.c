/* image.c — image decode (PNG via libpng, JPEG via TurboJPEG), PNG encode, crop and a
 * PIL-compatible bicubic resize.
 *
 * Mirrors how the official code reads images: cv2.imread / PIL's convert('RGB') drop the
 * alpha channel (no compositing), 16-bit samples keep their high byte, palette images are
 * expanded; convert('L') uses PIL's fixed-point ITU-R 601 luma. JPEG EXIF orientation is
 * applied like cv2.imread does (the official training datasets read with cv2). The resize
 * reproduces PIL's Image.resize(..., BICUBIC) (used by bin/gen_mask_dataset.py): separable,
 * horizontal pass first, 8-bit intermediate, 22-bit fixed-point coefficients.
 *
 * libpng reports errors by longjmp: the setjmp lives in png_decode(), whose state is kept
 * in a caller-owned context so nothing it needs after the jump is an automatic variable. */
#include "data/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "core/atomic.h"
#include "core/err.h"

#define LM_IMAGE_MAX_PIXELS ((size_t)1 << 31)

int lm_image_alloc(lm_image *out, int w, int h, int c) {
    memset(out, 0, sizeof *out);
    if (w <= 0 || h <= 0 || (c != 1 && c != 3))
        return lm_err_code(LM_EINVAL, "image: bad size %dx%dx%d", w, h, c);
    if ((size_t)w * (size_t)h > LM_IMAGE_MAX_PIXELS)
        return lm_err_code(LM_EINVAL, "image: %dx%d is too large", w, h);
    out->data = malloc((size_t)w * h * c);
    if (!out->data) return lm_err_code(LM_ENOMEM, "image: out of memory for %dx%dx%d", w, h, c);
    out->w = w, out->h = h, out->c = c;
    return 0;
}

void lm_image_free(lm_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* PIL's L24: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16 */
static inline uint8_t luma(const uint8_t *p) {
    return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

/* Converts one row of `sc` interleaved 8-bit channels (1 gray, 2 gray+alpha, 3 RGB,
 * 4 RGBA) to `dc` channels (1 or 3); alpha is dropped. */
static void convert_row(uint8_t *dst, int dc, const uint8_t *src, int sc, int w) {
    for (int x = 0; x < w; x++, src += sc) {
        if (dc == 3) {
            if (sc >= 3) dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
            else dst[0] = dst[1] = dst[2] = src[0];
            dst += 3;
        } else {
            *dst++ = sc >= 3 ? luma(src) : src[0];
        }
    }
}

/* ---- PNG ------------------------------------------------------------------------------ */

typedef struct png_ctx {
    const uint8_t *bytes;
    size_t n, pos;
    char msg[200];
    uint8_t *rowbuf;   /* all rows in the decoded (source) layout */
    png_bytep *rows;
    jmp_buf jb;
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void png_read_mem(png_structp png, png_bytep out, png_size_t len) {
    png_ctx *c = png_get_io_ptr(png);
    if (len > c->n - c->pos) png_error(png, "truncated file (unexpected end of data)");
    memcpy(out, c->bytes + c->pos, len);
    c->pos += len;
}

/* Decodes into out (channels 1 or 3). The setjmp frame: nothing here is touched after a
 * jump except the context and `png`/`info`, which are set before setjmp. */
static int png_decode(png_ctx *c, lm_image *out, int channels) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_on_error, png_on_warning);
    if (!png) return lm_err_code(LM_ENOMEM, "libpng: cannot create reader");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return lm_err_code(LM_ENOMEM, "libpng: cannot create info");
    }
    if (setjmp(c->jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        lm_image_free(out);
        return lm_err_code(LM_EINVAL, "corrupt PNG: %s", c->msg);
    }
    png_set_read_fn(png, c, png_read_mem);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int ct = png_get_color_type(png, info), bd = png_get_bit_depth(png, info);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bd == 16) png_set_strip_16(png); /* keep the high byte, as cv2 and PIL do */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int sc = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (w == 0 || h == 0 || (size_t)w * h > LM_IMAGE_MAX_PIXELS || rowbytes != (size_t)w * sc)
        png_error(png, "unsupported size or layout");
    if (lm_image_alloc(out, (int)w, (int)h, channels) < 0) png_error(png, "out of memory");
    c->rowbuf = malloc(rowbytes * h);
    c->rows = malloc(sizeof(png_bytep) * h);
    if (!c->rowbuf || !c->rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) c->rows[y] = c->rowbuf + rowbytes * y;
    png_read_image(png, c->rows);
    png_read_end(png, NULL);
    for (png_uint_32 y = 0; y < h; y++)
        convert_row(out->data + (size_t)y * w * channels, channels, c->rows[y], sc, (int)w);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/* ---- JPEG ----------------------------------------------------------------------------- */

/* EXIF orientation (1..8) from an APP1 segment, 1 if absent or unreadable. */
static int jpeg_exif_orientation(const uint8_t *b, size_t n) {
    size_t p = 2;
    while (p + 4 <= n && b[p] == 0xFF) {
        int marker = b[p + 1];
        size_t len = ((size_t)b[p + 2] << 8) | b[p + 3];
        if (marker == 0xDA || marker == 0xD9 || len < 2) break; /* start of scan / end */
        const uint8_t *s = b + p + 4;
        size_t sl = len - 2;
        if (p + 2 + len > n) break;
        if (marker == 0xE1 && sl >= 14 && !memcmp(s, "Exif\0\0", 6)) {
            const uint8_t *t = s + 6;
            size_t tl = sl - 6;
            int le = t[0] == 'I';
#define RD16(q) (le ? (unsigned)((q)[0] | (q)[1] << 8) : (unsigned)((q)[0] << 8 | (q)[1]))
#define RD32(q) (le ? ((uint32_t)(q)[0] | (uint32_t)(q)[1] << 8 | (uint32_t)(q)[2] << 16 | (uint32_t)(q)[3] << 24) \
                    : ((uint32_t)(q)[0] << 24 | (uint32_t)(q)[1] << 16 | (uint32_t)(q)[2] << 8 | (uint32_t)(q)[3]))
            uint32_t ifd = RD32(t + 4);
            if ((size_t)ifd + 2 > tl) return 1; /* size_t: ifd near 2^32 must not wrap */
            unsigned cnt = RD16(t + ifd);
            for (unsigned i = 0; i < cnt; i++) {
                size_t e = ifd + 2 + 12 * (size_t)i;
                if (e + 12 > tl) return 1;
                if (RD16(t + e) == 0x0112) {
                    unsigned v = RD16(t + e + 8);
                    return v >= 1 && v <= 8 ? (int)v : 1;
                }
            }
#undef RD16
#undef RD32
            return 1;
        }
        p += 2 + len;
    }
    return 1;
}

/* Applies EXIF orientation o (2..8) in place (may swap w and h). */
static int apply_orientation(lm_image *img, int o) {
    if (o <= 1) return 0;
    int w = img->w, h = img->h, c = img->c;
    int swap = o >= 5;
    lm_image t;
    int rc = lm_image_alloc(&t, swap ? h : w, swap ? w : h, c);
    if (rc < 0) return rc;
    for (int y = 0; y < t.h; y++)
        for (int x = 0; x < t.w; x++) {
            int sx, sy; /* source pixel of output (x, y) */
            switch (o) {
            case 2: sx = w - 1 - x, sy = y; break;
            case 3: sx = w - 1 - x, sy = h - 1 - y; break;
            case 4: sx = x, sy = h - 1 - y; break;
            case 5: sx = y, sy = x; break;
            case 6: sx = y, sy = h - 1 - x; break;
            case 7: sx = w - 1 - y, sy = h - 1 - x; break;
            default: sx = w - 1 - y, sy = x; break; /* 8 */
            }
            memcpy(t.data + ((size_t)y * t.w + x) * c, img->data + ((size_t)sy * w + sx) * c, c);
        }
    lm_image_free(img);
    *img = t;
    return 0;
}

static int jpeg_decode(lm_image *out, const uint8_t *bytes, size_t n, int channels) {
    int rc = 0, w, h, ss, cs;
    tjhandle tj = tjInitDecompress();
    if (!tj) return lm_err_code(LM_ENOMEM, "TurboJPEG: cannot create decoder");
    if (tjDecompressHeader3(tj, bytes, (unsigned long)n, &w, &h, &ss, &cs) < 0) {
        rc = lm_err_code(LM_EINVAL, "corrupt JPEG: %s", tjGetErrorStr2(tj));
        goto cleanup;
    }
    if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
        rc = lm_err_code(LM_ENOTSUP, "CMYK JPEG is not supported");
        goto cleanup;
    }
    /* always RGB: gray output is PIL's luma of the decoded RGB, as convert('L') gives */
    if ((rc = lm_image_alloc(out, w, h, 3)) < 0) goto cleanup;
    if (tjDecompress2(tj, bytes, (unsigned long)n, out->data, w, 0, h, TJPF_RGB,
                      TJFLAG_ACCURATEDCT) < 0) {
        /* warnings (e.g. extraneous bytes) are tolerated as cv2 and PIL do, except a
         * premature end: a truncated file is an error */
        const char *m = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) != TJERR_WARNING || strstr(m, "Premature end")) {
            rc = lm_err_code(LM_EINVAL, "corrupt JPEG: %s", m);
            lm_image_free(out);
            goto cleanup;
        }
    }
    if (channels == 1) {
        for (size_t i = 0, np = (size_t)w * h; i < np; i++) out->data[i] = luma(out->data + 3 * i);
        out->c = 1;
    }
    rc = apply_orientation(out, jpeg_exif_orientation(bytes, n));
    if (rc < 0) lm_image_free(out);
cleanup:
    tjDestroy(tj);
    return rc;
}

/* ---- public --------------------------------------------------------------------------- */

int lm_image_sniff(const void *bytes, size_t n) {
    const uint8_t *b = bytes;
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return LM_IMAGE_PNG;
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return LM_IMAGE_JPEG;
    return LM_IMAGE_UNKNOWN;
}

int lm_image_decode(lm_image *out, const void *bytes, size_t n, int channels, const char *name) {
    int rc;
    memset(out, 0, sizeof *out);
    if (channels != 1 && channels != 3)
        return lm_err_code(LM_EINVAL, "%s: channels must be 1 or 3, got %d", name, channels);
    switch (lm_image_sniff(bytes, n)) {
    case LM_IMAGE_PNG: {
        png_ctx *c = calloc(1, sizeof *c);
        if (!c) return lm_err_code(LM_ENOMEM, "%s: out of memory", name);
        c->bytes = bytes, c->n = n;
        rc = png_decode(c, out, channels);
        free(c->rowbuf);
        free(c->rows);
        free(c);
        break;
    }
    case LM_IMAGE_JPEG: rc = jpeg_decode(out, bytes, n, channels); break;
    default:
        return lm_err_code(LM_EINVAL, "%s: not a PNG or JPEG file (unrecognised signature)", name);
    }
    if (rc < 0) lm_err_prefix("%s", name);
    return rc;
}

int lm_image_read(lm_image *out, const char *path, int channels) {
    int rc = 0;
    uint8_t *buf = NULL;
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return lm_err_code(LM_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = lm_err_code(LM_EIO, "%s: not a regular file", path);
        goto cleanup;
    }
    size_t n = (size_t)st.st_size;
    buf = malloc(n ? n : 1);
    if (!buf) {
        rc = lm_err_code(LM_ENOMEM, "%s: out of memory (%zu bytes)", path, n);
        goto cleanup;
    }
    if (fread(buf, 1, n, f) != n) {
        rc = lm_err_code(LM_EIO, "%s: read error", path);
        goto cleanup;
    }
    rc = lm_image_decode(out, buf, n, channels, path);
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

typedef struct png_wctx {
    char msg[200];
    jmp_buf jb;
    uint8_t *mem; /* the encoded output */
    size_t n, cap;
} png_wctx;

static void png_write_mem(png_structp png, png_bytep data, png_size_t len) {
    png_wctx *c = png_get_io_ptr(png);
    if (len > c->cap - c->n) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap - c->n < len) {
            if (cap > SIZE_MAX / 2) png_error(png, "output too large");
            cap *= 2;
        }
        uint8_t *q = realloc(c->mem, cap);
        if (!q) png_error(png, "out of memory");
        c->mem = q, c->cap = cap;
    }
    memcpy(c->mem + c->n, data, len);
    c->n += len;
}

static void png_flush_mem(png_structp png) { (void)png; }

static void png_on_werror(png_structp png, png_const_charp msg) {
    png_wctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static int png_encode(png_wctx *c, const lm_image *img) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, png_on_werror, png_on_warning);
    if (!png) return lm_err_code(LM_ENOMEM, "libpng: cannot create writer");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return lm_err_code(LM_ENOMEM, "libpng: cannot create info");
    }
    if (setjmp(c->jb)) {
        png_destroy_write_struct(&png, &info);
        return lm_err_code(LM_EIO, "PNG encode: %s", c->msg);
    }
    png_set_write_fn(png, c, png_write_mem, png_flush_mem);
    png_set_compression_level(png, 6);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 img->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++) png_write_row(png, img->data + (size_t)y * img->w * img->c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* Encoded in memory, then written through core/atomic (temp file beside the target with
 * mode 0666 & ~umask, fsync, rename): a failed or interrupted write leaves no file. */
int lm_image_write_png(const char *path, const lm_image *img) {
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || (img->c != 1 && img->c != 3))
        return lm_err_code(LM_EINVAL, "%s: cannot write an empty or non gray/RGB image", path);
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = lm_image_encode_png(&buf, &n, img);
    if (rc < 0) rc = lm_err_prefix("%s", path);
    else rc = lm_atomic_write_file(path, buf, n);
    free(buf);
    return rc;
}

int lm_image_encode_png(uint8_t **out, size_t *n, const lm_image *img) {
    *out = NULL, *n = 0;
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || (img->c != 1 && img->c != 3))
        return lm_err_code(LM_EINVAL, "PNG encode: empty or non gray/RGB image");
    png_wctx *c = calloc(1, sizeof *c);
    if (!c) return lm_err_code(LM_ENOMEM, "PNG encode: out of memory");
    int rc = png_encode(c, img);
    if (rc == 0) *out = c->mem, *n = c->n;
    else free(c->mem);
    free(c);
    return rc;
}

int lm_image_crop(lm_image *out, const lm_image *in, int x, int y, int w, int h) {
    memset(out, 0, sizeof *out);
    if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > in->w || y + h > in->h)
        return lm_err_code(LM_EINVAL, "image crop: box (%d,%d,%d,%d) outside %dx%d", x, y, w, h,
                           in->w, in->h);
    int rc = lm_image_alloc(out, w, h, in->c);
    if (rc < 0) return rc;
    for (int r = 0; r < h; r++)
        memcpy(out->data + (size_t)r * w * in->c, in->data + ((size_t)(y + r) * in->w + x) * in->c,
               (size_t)w * in->c);
    return 0;
}

/* ---- PIL-compatible bicubic resize ------------------------------------------------------ */

#define RS_PREC 22 /* PIL's PRECISION_BITS = 32 - 8 - 2 */

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

/* Per output index: first input index, tap count, and `ksize` fixed-point weights. */
static int rs_coeffs(int in, int outn, int **bounds, int32_t **kk, int *ksize_out) {
    double scale = (double)in / outn, fs = scale < 1 ? 1 : scale, support = 2.0 * fs;
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = malloc(sizeof(double) * ksize);
    *bounds = malloc(sizeof(int) * 2 * outn);
    *kk = calloc((size_t)outn * ksize, sizeof(int32_t));
    if (!k || !*bounds || !*kk) {
        free(k), free(*bounds), free(*kk);
        return lm_err_code(LM_ENOMEM, "resize: out of memory");
    }
    for (int o = 0; o < outn; o++) {
        double center = (o + 0.5) * scale, ww = 0, ss = 1.0 / fs;
        int xmin = (int)(center - support + 0.5), xmax;
        if (xmin < 0) xmin = 0;
        xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) ww += k[x] = bicubic((x + xmin - center + 0.5) * ss);
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0 ? k[x] / ww : k[x];
            (*kk)[(size_t)o * ksize + x] = (int32_t)(v < 0 ? -0.5 + v * (1 << RS_PREC) : 0.5 + v * (1 << RS_PREC));
        }
        (*bounds)[2 * o] = xmin, (*bounds)[2 * o + 1] = xmax;
    }
    free(k);
    *ksize_out = ksize;
    return 0;
}

static inline uint8_t clip8(int64_t v) {
    v >>= RS_PREC;
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

int lm_image_resize_bicubic(lm_image *out, const lm_image *in, int w, int h) {
    int rc, c = in->c, *bx = NULL, *by = NULL, kx = 0, ky = 0;
    int32_t *cx = NULL, *cy = NULL;
    lm_image tmp = {0};
    memset(out, 0, sizeof *out);
    if ((rc = rs_coeffs(in->w, w, &bx, &cx, &kx)) < 0) goto cleanup;
    if ((rc = rs_coeffs(in->h, h, &by, &cy, &ky)) < 0) goto cleanup;
    /* horizontal pass (skipped by PIL when the width is unchanged) */
    if (w != in->w) {
        if ((rc = lm_image_alloc(&tmp, w, in->h, c)) < 0) goto cleanup;
        for (int y = 0; y < in->h; y++)
            for (int x = 0; x < w; x++) {
                const int32_t *k = cx + (size_t)x * kx;
                for (int ch = 0; ch < c; ch++) {
                    int64_t ss = 1 << (RS_PREC - 1);
                    const uint8_t *src = in->data + ((size_t)y * in->w + bx[2 * x]) * c + ch;
                    for (int t = 0; t < bx[2 * x + 1]; t++) ss += (int64_t)src[(size_t)t * c] * k[t];
                    tmp.data[((size_t)y * w + x) * c + ch] = clip8(ss);
                }
            }
    } else if ((rc = lm_image_crop(&tmp, in, 0, 0, in->w, in->h)) < 0) {
        goto cleanup;
    }
    if (h == in->h) {
        *out = tmp;
        memset(&tmp, 0, sizeof tmp);
        goto cleanup;
    }
    if ((rc = lm_image_alloc(out, w, h, c)) < 0) goto cleanup;
    for (int y = 0; y < h; y++) {
        const int32_t *k = cy + (size_t)y * ky;
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                int64_t ss = 1 << (RS_PREC - 1);
                const uint8_t *src = tmp.data + ((size_t)by[2 * y] * w + x) * c + ch;
                for (int t = 0; t < by[2 * y + 1]; t++) ss += (int64_t)src[(size_t)t * w * c] * k[t];
                out->data[((size_t)y * w + x) * c + ch] = clip8(ss);
            }
    }
cleanup:
    lm_image_free(&tmp);
    free(bx), free(by), free(cx), free(cy);
    return rc;
}
