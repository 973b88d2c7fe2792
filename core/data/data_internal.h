/* data_internal.h - what the dataset readers (dataset.c, ds_*.c, json_skip.c)
 * share and nothing outside core/data may use: the arena, path and number
 * helpers, the XML driver, the COCO records and the JSON skipper. The public
 * API is dataset.h; tests/c and bench/ reach the COCO reader's knobs here. */
#ifndef CQ_DATA_INTERNAL_H
#define CQ_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"

/* ---- dataset.c: the arena and box bookkeeping ---------------------------- */

/* Store a string in the arena; returns its offset or (size_t)-1 on ENOMEM. */
size_t cq__dataset_intern(cq_dataset *ds, const char *s, size_t len, cq_err *err);

/* ---- helpers shared by the readers ---------------------------------------- */

/* dir + "/" + rel (rel unchanged when absolute or dir empty) into a malloc'ed
 * string; NULL on ENOMEM. */
char *cq__path_join(const char *dir, const char *rel);
/* The image folder of an annotation folder: opts->image_root when set; else,
 * when dir's last component is ann (e.g. "Annotations", "labels"), the sibling
 * folder img ("JPEGImages", "images"); else dir. malloc'ed; NULL on ENOMEM. */
char *cq__image_dir(const char *dir, const cq_ds_opts *opts, const char *ann, const char *img);
/* Folder part of path ("." when none), malloc'ed; NULL on ENOMEM. */
char *cq__path_dir(const char *path);
/* Names in dir ending in ext, sorted (strcmp); *n set. Each name and the
 * array are malloc'ed (caller frees). NULL on failure (err filled). */
char **cq__list_dir(const char *dir, const char *ext, int *n, cq_err *err);
/* Strict number parsing of a whole NUL-terminated string; 0 on success. */
int cq__parse_i64(const char *s, int64_t *v);
int cq__parse_f32(const char *s, float *v);

/* The COCO reader with its knobs (tests and bench/sampler_bench.c): reads
 * path, or mem[0..len) when path is NULL (name for messages). knobs may be
 * NULL (defaults); skipped is set on return (bytes of ignored values that
 * yajl never saw). Same contract as cq_ds_read_coco. */
typedef struct cq__coco_knobs {
    size_t read;      /* bytes per read (0: 1 MiB) */
    size_t cap;       /* buffer size (at least read) */
    int noskip;       /* 1: every byte through yajl's callbacks, the reference path */
    uint64_t skipped; /* out */
} cq__coco_knobs;
cq_dataset *cq__coco_read(const char *path, const char *mem, size_t len, const char *name,
                          const cq_ds_opts *opts, cq__coco_knobs *knobs, cq_err *err);

/* XML through expat: parse the file at path with start/end/text handlers
 * (ud passed through). A handler reports a problem with cq__xml_fail (which
 * stops the parser and records file:line:column). Returns CQ_OK or the error. */
typedef struct cq__xml cq__xml;
typedef struct cq__xml_handlers {
    void (*start)(cq__xml *x, const char *name, const char **attrs);
    void (*end)(cq__xml *x, const char *name);
    void (*text)(cq__xml *x, const char *s, int len);
    void *ud;
} cq__xml_handlers;
cq_status cq__xml_parse_file(const char *path, const cq__xml_handlers *h, cq_err *err);
void *cq__xml_ud(cq__xml *x);
void cq__xml_fail(cq__xml *x, cq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Value of attribute name in attrs (expat's name, value, ... NULL), or NULL. */
const char *cq__xml_attr(const char **attrs, const char *name);

/* ---- ds_coco.c parses, ds_coco_link.c links: the records kept while the
 * file streams by ------------------------------------------------------------ */

typedef struct {
    int64_t image_id, cat_id; /* cat_id INT64_MIN: none */
    float bbox[4];
    uint8_t crowd;
} cq__coco_ann;

typedef struct {
    int64_t id;
    size_t name; /* offset in the dataset's arena */
    int32_t w, h;
} cq__coco_img;

typedef struct {
    int64_t id;
    size_t name;
} cq__coco_cat;

typedef struct {
    cq__coco_img *img;
    int64_t nimg, capimg;
    cq__coco_ann *ann;
    int64_t nann, capann;
    cq__coco_cat *cat;
    int64_t ncat, capcat;
} cq__coco_recs;

/* Add r's images, with their annotations as boxes (categories resolved by
 * id, iscrowd as CQ_BOX_IGNORE), to ds; image paths are file names joined to
 * dir. Returns CQ_OK, CQ_EFORMAT (an image id twice; message "NAME: ...") or
 * CQ_ENOMEM. r stays the caller's. */
cq_status cq__coco_link(const cq__coco_recs *r, cq_dataset *ds, const char *dir, const char *name,
                        cq_err *err);

/* ---- json_skip.c: find the end of a JSON array or object without parsing it.
 *
 * A reader that streams JSON through a callback parser (yajl) pays one
 * callback per token even for values it throws away; COCO's "segmentation"
 * polygons are most of the file. cq__json_skip walks such a value byte by
 * byte (runs of numbers without white space 16 bytes at a time where SSE2
 * is there), checking the grammar (brackets, commas, colons, strings and
 * their escapes, numbers, true/false/null), and says where it ends. It is
 * deliberately conservative: whatever it is not sure yajl would accept
 * (control or non-ASCII bytes in strings, \f or \v as white space, nesting
 * deeper than 64, any syntax error) is answered CQ__JSKIP_UNSURE, and the
 * caller hands that value to the real parser, which then reports the error
 * with its own message and place. So skipping never changes what is
 * accepted nor the text of an error.
 *
 *     size_t end;
 *     if (cq__json_skip(p, n, &end) == CQ__JSKIP_DONE)
 *         p += end;    // the value was p[0 .. end), valid JSON
 */

enum {
    CQ__JSKIP_DONE,   /* the value ends at *end (one past its closing bracket) */
    CQ__JSKIP_MORE,   /* valid so far, but s[0..n) ends inside the value */
    CQ__JSKIP_UNSURE, /* not checked here: let the real parser read it */
};

/* s[0] must be '[' or '{' (else UNSURE). *end is set only on DONE. */
int cq__json_skip(const char *s, size_t n, size_t *end);

#endif
