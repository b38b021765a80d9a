/* raster.c — thick lines and filled circles with OpenCV's integer arithmetic (see raster.h).
 * Coordinates of the thick-line polygon are 16.16 fixed point (XY_SHIFT 16), as in OpenCV's
 * drawing code; the polygon outline is drawn with a fixed-point DDA and its interior with a
 * two-edge scanline fill, then both end caps as midpoint circles. */
#include "masks/raster.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SHIFT 16
#define ONE ((int64_t)1 << SHIFT)
#define HALF (ONE >> 1)

typedef struct { int64_t x, y; } pt64;

static inline void hline(uint8_t *m, int w, int y, int x1, int x2, uint8_t v) {
    if (x2 >= x1) memset(m + (size_t)y * w + x1, v, (size_t)(x2 - x1 + 1));
}

static inline void put(uint8_t *m, int h, int w, int64_t x, int64_t y, uint8_t v) {
    if (x >= 0 && x < w && y >= 0 && y < h) m[(size_t)y * w + x] = v;
}

/* Cohen–Sutherland clip of a segment to [0, sw-1] x [0, sh-1]; 0 when fully outside. */
static int clip_segment(int64_t sw, int64_t sh, pt64 *a, pt64 *b) {
    int64_t right = sw - 1, bottom = sh - 1;
    if (sw <= 0 || sh <= 0) return 0;
    int c1 = (a->x < 0) + (a->x > right) * 2 + (a->y < 0) * 4 + (a->y > bottom) * 8;
    int c2 = (b->x < 0) + (b->x > right) * 2 + (b->y < 0) * 4 + (b->y > bottom) * 8;
    if ((c1 & c2) == 0 && (c1 | c2) != 0) {
        int64_t e;
        if (c1 & 12) {
            e = c1 < 8 ? 0 : bottom;
            a->x += (e - a->y) * (b->x - a->x) / (b->y - a->y);
            a->y = e;
            c1 = (a->x < 0) + (a->x > right) * 2;
        }
        if (c2 & 12) {
            e = c2 < 8 ? 0 : bottom;
            b->x += (e - b->y) * (b->x - a->x) / (b->y - a->y);
            b->y = e;
            c2 = (b->x < 0) + (b->x > right) * 2;
        }
        if ((c1 & c2) == 0 && (c1 | c2) != 0) {
            if (c1) {
                e = c1 == 1 ? 0 : right;
                a->y += (e - a->x) * (b->y - a->y) / (b->x - a->x);
                a->x = e;
                c1 = 0;
            }
            if (c2) {
                e = c2 == 1 ? 0 : right;
                b->y += (e - b->x) * (b->y - a->y) / (b->x - a->x);
                b->x = e;
                c2 = 0;
            }
        }
    }
    return (c1 | c2) == 0;
}

/* 1-pixel line between fixed-point points (the polygon outline). */
static void line_fixed(uint8_t *m, int h, int w, pt64 a, pt64 b, uint8_t v) {
    if (!clip_segment((int64_t)w << SHIFT, (int64_t)h << SHIFT, &a, &b)) return;
    int64_t dx = b.x - a.x, dy = b.y - a.y;
    int64_t ax = dx < 0 ? -dx : dx, ay = dy < 0 ? -dy : dy, xs, ys;
    int64_t ecount;
    int xmajor = ax > ay;
    if (xmajor) {
        if (dx < 0) { pt64 t = a; a = b; b = t; dy = -dy; }
        xs = ONE;
        ys = dy * ONE / (ax | 1);
        ecount = (b.x - a.x) >> SHIFT;
    } else {
        if (dy < 0) { pt64 t = a; a = b; b = t; dx = -dx; }
        xs = dx * ONE / (ay | 1);
        ys = ONE;
        ecount = (b.y - a.y) >> SHIFT;
    }
    a.x += HALF, a.y += HALF;
    put(m, h, w, (b.x + HALF) >> SHIFT, (b.y + HALF) >> SHIFT, v);
    if (xmajor) {
        a.x >>= SHIFT;
        for (; ecount >= 0; ecount--, a.x++, a.y += ys) put(m, h, w, a.x, a.y >> SHIFT, v);
    } else {
        a.y >>= SHIFT;
        for (; ecount >= 0; ecount--, a.x += xs, a.y++) put(m, h, w, a.x >> SHIFT, a.y, v);
    }
}

/* Convex polygon in 16.16 fixed point: outline, then scanline fill between two edges. */
static void fill_convex(uint8_t *m, int h, int w, const pt64 *p, int n, uint8_t v) {
    struct { int idx, di; int64_t x, dx; int ye; } e[2];
    int imin = 0, edges = n, y;
    int64_t xmin = p[0].x, xmax = p[0].x, ymin = p[0].y, ymax = p[0].y;
    pt64 prev = p[n - 1];
    for (int i = 0; i < n; i++) {
        if (p[i].y < ymin) ymin = p[i].y, imin = i;
        if (p[i].y > ymax) ymax = p[i].y;
        if (p[i].x > xmax) xmax = p[i].x;
        if (p[i].x < xmin) xmin = p[i].x;
        line_fixed(m, h, w, prev, p[i], v);
        prev = p[i];
    }
    xmin = (xmin + HALF) >> SHIFT, xmax = (xmax + HALF) >> SHIFT;
    ymin = (ymin + HALF) >> SHIFT, ymax = (ymax + HALF) >> SHIFT;
    if (n < 3 || xmax < 0 || ymax < 0 || xmin >= w || ymin >= h) return;
    if (ymax > h - 1) ymax = h - 1;
    e[0].idx = e[1].idx = imin;
    e[0].ye = e[1].ye = y = (int)ymin;
    e[0].di = 1, e[1].di = n - 1;
    e[0].x = e[1].x = -ONE;
    e[0].dx = e[1].dx = 0;
    do {
        for (int i = 0; i < 2; i++) {
            if (y < e[i].ye) continue;
            int idx0 = e[i].idx, idx = idx0 + e[i].di;
            if (idx >= n) idx -= n;
            while (edges-- > 0) {
                int ty = (int)((p[idx].y + HALF) >> SHIFT);
                if (ty > y) {
                    int64_t xs = p[idx0].x, xe = p[idx].x;
                    e[i].ye = ty;
                    e[i].dx = ((xe - xs) * 2 + ((int64_t)ty - y)) / (2 * ((int64_t)ty - y));
                    e[i].x = xs;
                    e[i].idx = idx;
                    break;
                }
                idx0 = idx;
                idx += e[i].di;
                if (idx >= n) idx -= n;
            }
        }
        if (edges < 0) break;
        if (y >= 0) {
            int l = e[0].x > e[1].x, r = !l;
            int x1 = (int)((e[l].x + HALF) >> SHIFT), x2 = (int)((e[r].x + HALF) >> SHIFT);
            if (x2 >= 0 && x1 < w) {
                if (x1 < 0) x1 = 0;
                if (x2 >= w) x2 = w - 1;
                hline(m, w, y, x1, x2, v);
            }
        }
        e[0].x += e[0].dx;
        e[1].x += e[1].dx;
    } while (++y <= (int)ymax);
}

void lm_raster_circle(uint8_t *m, int h, int w, int cx, int cy, int r, uint8_t v) {
    int err = 0, dx = r, dy = 0, plus = 1, minus = (r << 1) - 1;
    if (r < 0) return;
    while (dx >= dy) {
        /* rows cy±dy span cx±dx; rows cy±dx span cx±dy */
        int ya[2] = {cy - dy, cy + dy}, yb[2] = {cy - dx, cy + dx};
        int xa1 = cx - dx, xa2 = cx + dx, xb1 = cx - dy, xb2 = cx + dy;
        if (xa1 < w && xa2 >= 0 && yb[0] < h && yb[1] >= 0) {
            if (xa1 < 0) xa1 = 0;
            if (xa2 > w - 1) xa2 = w - 1;
            for (int k = 0; k < 2; k++)
                if ((unsigned)ya[k] < (unsigned)h) hline(m, w, ya[k], xa1, xa2, v);
            if (xb1 < w && xb2 >= 0) {
                if (xb1 < 0) xb1 = 0;
                if (xb2 > w - 1) xb2 = w - 1;
                for (int k = 0; k < 2; k++)
                    if ((unsigned)yb[k] < (unsigned)h) hline(m, w, yb[k], xb1, xb2, v);
            }
        }
        dy++;
        err += plus;
        plus += 2;
        int mask = (err <= 0) - 1;
        err -= minus & mask;
        dx += mask;
        minus -= mask & 2;
    }
}

/* 8-connected Bresenham between integer points (thickness <= 1), left to right. */
static void line_thin(uint8_t *m, int h, int w, int x1, int y1, int x2, int y2, uint8_t v) {
    pt64 a = {x1, y1}, b = {x2, y2};
    if ((unsigned)x1 >= (unsigned)w || (unsigned)x2 >= (unsigned)w || (unsigned)y1 >= (unsigned)h ||
        (unsigned)y2 >= (unsigned)h)
        if (!clip_segment(w, h, &a, &b)) return;
    int64_t dx = b.x - a.x, dy = b.y - a.y;
    if (dx < 0) { pt64 t = a; a = b; b = t; dx = -dx; dy = -dy; }
    int64_t xstep = 1, ystep = w;
    if (dy < 0) dy = -dy, ystep = -ystep;
    if (dy > dx) { int64_t t = dx; dx = dy; dy = t; t = xstep; xstep = ystep; ystep = t; }
    int64_t err = dx - 2 * dy, off = a.y * w + a.x;
    for (int64_t i = 0; i <= dx; i++) {
        m[off] = v;
        int64_t k = err < 0 ? -1 : 0;
        err += -2 * dy + (2 * dx & k);
        off += xstep + (ystep & k);
    }
}

void lm_raster_line(uint8_t *m, int h, int w, int x0, int y0, int x1, int y1, int thickness,
                    uint8_t v) {
    if (thickness <= 1) {
        line_thin(m, h, w, x0, y0, x1, y1, v);
        return;
    }
    pt64 p0 = {(int64_t)x0 << SHIFT, (int64_t)y0 << SHIFT};
    pt64 p1 = {(int64_t)x1 << SHIFT, (int64_t)y1 << SHIFT};
    double dx = (double)(p0.x - p1.x) / ONE, dy = (double)(p1.y - p0.y) / ONE;
    double r = dx * dx + dy * dy;
    int odd = thickness & 1;
    int64_t th = (int64_t)thickness << (SHIFT - 1); /* half thickness, fixed point */
    if (fabs(r) > 2.220446049250313e-16) {
        r = ((double)th + odd * (double)ONE * 0.5) / sqrt(r);
        int64_t dpx = llrint(dy * r), dpy = llrint(dx * r);
        pt64 q[4] = {{p0.x + dpx, p0.y + dpy}, {p0.x - dpx, p0.y - dpy},
                     {p1.x - dpx, p1.y - dpy}, {p1.x + dpx, p1.y + dpy}};
        fill_convex(m, h, w, q, 4, v);
    }
    int rad = (int)((th + HALF) >> SHIFT);
    lm_raster_circle(m, h, w, x0, y0, rad, v);
    lm_raster_circle(m, h, w, x1, y1, rad, v);
}
