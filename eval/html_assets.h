/* html_assets.h — the CSS and JavaScript of report.html (eval/html_assets.c): NULL-terminated
 * tables of lines, written out in order by eval/html.c. */
#ifndef LM_HTML_ASSETS_H
#define LM_HTML_ASSETS_H

extern const char *const lm_html_css[];
extern const char *const lm_html_onerror_js[];
extern const char *const lm_html_js[];

#endif
