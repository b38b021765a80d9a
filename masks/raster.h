/* raster.h — binary rasterisation of thick lines and filled circles on a (h, w) uint8
 * plane, pixel-for-pixel like OpenCV's cv2.line(img, p0, p1, v, thickness) (LINE_8, shift
 * 0: a 16.16 fixed-point quadrilateral of half-width ⌈thickness/2⌉ outlined by its edges,
 * plus round caps drawn by the integer midpoint circle of radius (thickness+1)//2) and
 * cv2.circle(img, c, r, v, thickness=-1). The official mask generators
 * (saicinpainting/training/data/masks.py) draw their strokes with those two calls. */
#ifndef LM_MASKS_RASTER_H
#define LM_MASKS_RASTER_H

#include <stdint.h>

/* Draws the segment (x0, y0)–(x1, y1) with the given thickness (>= 0) and value v. Points
 * may lie outside the plane; pixels outside are clipped. */
void lm_raster_line(uint8_t *m, int h, int w, int x0, int y0, int x1, int y1, int thickness,
                    uint8_t v);
/* Filled circle of radius r >= 0 centred at (cx, cy). */
void lm_raster_circle(uint8_t *m, int h, int w, int cx, int cy, int r, uint8_t v);

#endif
