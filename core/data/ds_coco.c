/* ds_coco.c - COCO instances JSON, streamed through yajl's callback parser.
 *
 * The file is read in 1 MiB pieces and never held whole: only what calq keeps
 * is stored (per image: id, file_name, width, height; per annotation:
 * image_id, category_id, bbox, iscrowd; per category: id, name). Every other
 * value (segmentation polygons, RLE, area, urls, licenses, info) is skipped
 * by depth counting, so memory is proportional to the number of images and
 * annotations, not to the file size. The sections may come in any order;
 * ds_coco_link.c links annotations to images at the end.
 *
 * Skipping before yajl: "segmentation" values are most of a COCO file, and
 * one callback per polygon number costs about as much as yajl's own
 * tokenizing. So the driver (step) looks for the bytes "segmentation" + ':'
 * (memmem), feeds yajl up to the colon, and when yajl has just returned that
 * very key (its end offset matches) in a place whose value the callbacks
 * ignore, cq__json_skip (json_skip.c) checks the array or object and yajl is
 * fed "null" in its stead. Whatever the skipper doubts (a syntax error, an
 * unusual byte) goes to yajl as before, so what is accepted and every error
 * message stay the same; pieces are only cut between tokens for that reason.
 * cq__coco_knobs (dataset.h) set the read size and turn skipping off (the
 * reference path for tests and bench/sampler.sh).
 *
 * iscrowd = 1 annotations are kept with CQ_BOX_IGNORE (crowd regions are not
 * single objects). Annotations naming an unknown image are dropped and
 * counted (ds->boxes_dropped). Image paths are file_name joined to
 * opts->image_root, else to the JSON file's folder.
 *
 * Positions: yajl reports the byte offset inside the piece it was given
 * (yajl_get_bytes_consumed); newlines of earlier pieces and skipped values
 * are counted as each is done (memchr), which gives FILE:LINE:COLUMN for
 * yajl's syntax errors and for calq's own (a bbox of 3 numbers, an image
 * without an id). The column is the one just after the offending token
 * (where yajl stopped). */
#include "data/data_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_parse.h>

enum { SEC_NONE, SEC_IMAGES, SEC_ANNS, SEC_CATS };
enum { K_OTHER, K_ID, K_FILE, K_W, K_H, K_IMAGE_ID, K_CAT_ID, K_BBOX, K_CROWD, K_NAME };

typedef cq__coco_ann coco_ann;
typedef cq__coco_img coco_img;

typedef struct {
    yajl_handle h;
    const char *name;
    cq_err *err;
    cq_status st;
    /* position */
    const char *chunk; /* the piece yajl is reading */
    long lines_before; /* newlines in earlier chunks */
    size_t col_carry;  /* bytes after the last newline of earlier chunks */
    /* structure */
    int depth, skip, sec, key, topkey;
    /* the item being read */
    int64_t id, image_id, cat_id;
    int32_t iw, ih;
    float bbox[4];
    int nbbox, crowd, have; /* have: bit per key seen */
    size_t str;             /* arena offset of file_name / name, or -1 */
    cq__coco_recs r; /* what is kept */
    cq_dataset *ds; /* its arena holds the names */
    /* skipping (see the driver) */
    uint64_t chunk_abs;  /* file offset of chunk */
    uint64_t key_end;    /* file offset one past the last key yajl returned */
    uint64_t pat_end;    /* ... and past the last "segmentation" pattern */
    int match;           /* bytes of the pattern fed so far (SEGN: all) */
    int pend;            /* the value of an ignored key comes next */
    int noskip;
    uint64_t skipped;
} coco;

static void position(coco *c, long *line, long *col)
{
    size_t off = c->chunk ? yajl_get_bytes_consumed(c->h) : 0;
    long l = c->lines_before;
    const char *last = NULL;
    for (const char *p = c->chunk; p && (p = memchr(p, '\n', (size_t)(c->chunk + off - p))); p++) {
        l++;
        last = p;
    }
    *line = l + 1;
    *col = (long)(last ? (size_t)(c->chunk + off - last - 1) : c->col_carry + off) + 1;
}

/* Record a problem at the current place; returns 0 (cancel the parse). */
static int fail(coco *c, cq_status code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    long line, col;
    position(c, &line, &col);
    c->st = cq_errf(c->err, code, "%s:%ld:%ld: %s", c->name, line, col, msg);
    return 0;
}

static int grow(void *pp, int64_t *cap, int64_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    int64_t n = *cap ? *cap * 2 : 1024;
    if ((uint64_t)n > SIZE_MAX / sz / 2)
        return -1;
    void **p = pp, *q = realloc(*p, (size_t)n * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int key_id(const unsigned char *k, size_t n)
{
#define IS(s) (n == sizeof s - 1 && memcmp(k, s, n) == 0)
    if (IS("id")) return K_ID;
    if (IS("file_name")) return K_FILE;
    if (IS("width")) return K_W;
    if (IS("height")) return K_H;
    if (IS("image_id")) return K_IMAGE_ID;
    if (IS("category_id")) return K_CAT_ID;
    if (IS("bbox")) return K_BBOX;
    if (IS("iscrowd")) return K_CROWD;
    if (IS("name")) return K_NAME;
    return K_OTHER;
#undef IS
}

static int on_key(void *ud, const unsigned char *k, size_t n)
{
    coco *c = ud;
    c->key_end = c->chunk_abs + yajl_get_bytes_consumed(c->h);
    if (c->skip)
        return 1;
    if (c->depth == 1) {
        c->topkey = n == 6 && memcmp(k, "images", 6) == 0        ? SEC_IMAGES
                    : n == 11 && memcmp(k, "annotations", 11) == 0 ? SEC_ANNS
                    : n == 10 && memcmp(k, "categories", 10) == 0  ? SEC_CATS
                                                                   : SEC_NONE;
    } else if (c->depth == 3) {
        c->key = key_id(k, n);
    }
    return 1;
}

static int open_container(coco *c, int is_map)
{
    if (c->skip) {
        c->skip++;
        return 1;
    }
    switch (c->depth) {
    case 0:
        if (!is_map)
            return fail(c, CQ_EFORMAT, "expected a JSON object at the top (COCO instances file)");
        break;
    case 1:
        if (c->topkey == SEC_NONE) {
            c->skip = 1;
            return 1;
        }
        if (is_map)
            return fail(c, CQ_EFORMAT, "expected an array for this section, found an object");
        c->sec = c->topkey;
        break;
    case 2:
        if (!is_map)
            return fail(c, CQ_EFORMAT, "expected an object in the array, found an array");
        c->have = 0;
        c->nbbox = 0;
        c->crowd = 0;
        c->key = K_OTHER;
        c->str = (size_t)-1;
        c->iw = c->ih = 0;
        break;
    case 3:
        if (c->sec == SEC_ANNS && c->key == K_BBOX && !is_map) {
            c->have |= 1 << K_BBOX;
            break;
        }
        c->skip = 1;
        return 1;
    default:
        return fail(c, CQ_EFORMAT, "expected a number in \"bbox\"");
    }
    c->depth++;
    return 1;
}

static int commit(coco *c)
{
    if (c->sec == SEC_IMAGES) {
        if (!(c->have & 1 << K_ID) || !(c->have & 1 << K_FILE))
            return fail(c, CQ_EFORMAT, "image object ends without %s: expected \"id\" and \"file_name\"",
                        c->have & 1 << K_ID ? "\"file_name\"" : "\"id\"");
        if (grow(&c->r.img, &c->r.capimg, c->r.nimg + 1, sizeof *c->r.img))
            return fail(c, CQ_ENOMEM, "out of memory for %lld images", (long long)c->r.nimg);
        coco_img *m = &c->r.img[c->r.nimg++];
        m->id = c->id;
        m->name = c->str;
        m->w = c->iw;
        m->h = c->ih;
    } else if (c->sec == SEC_ANNS) {
        if (!(c->have & 1 << K_IMAGE_ID) || c->nbbox != 4)
            return fail(c, CQ_EFORMAT, "annotation object ends without %s",
                        c->have & 1 << K_IMAGE_ID ? "a 4-number \"bbox\": expected [x, y, width, height]"
                                                  : "\"image_id\"");
        if (grow(&c->r.ann, &c->r.capann, c->r.nann + 1, sizeof *c->r.ann))
            return fail(c, CQ_ENOMEM, "out of memory for %lld annotations", (long long)c->r.nann);
        coco_ann *a = &c->r.ann[c->r.nann++];
        a->image_id = c->image_id;
        a->cat_id = c->have & 1 << K_CAT_ID ? c->cat_id : INT64_MIN;
        memcpy(a->bbox, c->bbox, sizeof a->bbox);
        a->crowd = (uint8_t)(c->crowd != 0);
    } else if (c->sec == SEC_CATS) {
        if (!(c->have & 1 << K_ID) || !(c->have & 1 << K_NAME))
            return fail(c, CQ_EFORMAT, "category object ends without %s",
                        c->have & 1 << K_ID ? "\"name\"" : "\"id\"");
        if (grow(&c->r.cat, &c->r.capcat, c->r.ncat + 1, sizeof *c->r.cat))
            return fail(c, CQ_ENOMEM, "out of memory for categories");
        c->r.cat[c->r.ncat].id = c->id;
        c->r.cat[c->r.ncat++].name = c->str;
    }
    return 1;
}

static int close_container(coco *c, int is_map)
{
    (void)is_map;
    if (c->skip) {
        c->skip--;
        return 1;
    }
    c->depth--;
    if (c->depth == 2 && is_map)
        return commit(c);
    if (c->depth == 1)
        c->sec = SEC_NONE;
    return 1;
}

static int on_start_map(void *ud) { return open_container(ud, 1); }
static int on_end_map(void *ud) { return close_container(ud, 1); }
static int on_start_array(void *ud) { return open_container(ud, 0); }
static int on_end_array(void *ud) { return close_container(ud, 0); }

/* A scalar where only an object may stand? */
static int misplaced(coco *c)
{
    if (c->depth == 0)
        return !fail(c, CQ_EFORMAT, "expected a JSON object at the top (COCO instances file)");
    if (c->depth == 2)
        return !fail(c, CQ_EFORMAT, "expected an object in the array");
    return 0;
}

static int parse_int(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    int neg = 0;
    uint64_t x = 0;
    if (n && s[0] == '-')
        neg = 1, i = 1;
    if (i == n)
        return -1;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10 / 2)
            break;
        x = x * 10 + d;
    }
    if (i < n) { /* 12.0 or 1e3: accept when integral */
        char buf[64];
        if (n >= sizeof buf)
            return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        char *end;
        double d = strtod(buf, &end);
        if (*end || !(d <= 9e18 && d >= -9e18) || d != (double)(int64_t)d) /* range first: no UB */
            return -1;
        *v = (int64_t)d;
        return 0;
    }
    *v = neg ? -(int64_t)x : (int64_t)x;
    return 0;
}

/* bbox numbers: plain decimals ("473.07") take the fast path, exact because
 * the digits (< 2^53) and 10^k (k <= 22) are exact doubles and one division
 * rounds correctly; anything else (exponents, long mantissas) goes to strtod. */
static int parse_float(const char *s, size_t n, float *v)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    int neg = 0, frac = -1, digits = 0;
    uint64_t m = 0;
    if (n && s[0] == '-')
        neg = 1, i = 1;
    for (; i < n; i++) {
        if (s[i] == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || ++digits > 15)
            break;
        m = m * 10 + d;
        if (frac >= 0)
            frac++;
    }
    if (i == n && digits) {
        double x = (double)m / p10[frac > 0 ? frac : 0];
        *v = (float)(neg ? -x : x);
        return 0;
    }
    char buf[64];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (*end || d != d || d > 1e30 || d < -1e30)
        return -1;
    *v = (float)d;
    return 0;
}

static int on_number(void *ud, const char *s, size_t n)
{
    coco *c = ud;
    if (c->skip || c->depth == 1)
        return 1;
    if (misplaced(c))
        return 0;
    if (c->depth == 4) {
        if (c->nbbox == 4)
            return fail(c, CQ_EFORMAT, "\"bbox\" has more than 4 numbers: expected [x, y, width, height]");
        if (parse_float(s, n, &c->bbox[c->nbbox]))
            return fail(c, CQ_EFORMAT, "\"bbox\" value %.*s out of range", (int)(n < 40 ? n : 40), s);
        c->nbbox++;
        return 1;
    }
    int64_t v;
    int k = c->key;
    if (k == K_OTHER || k == K_FILE || k == K_NAME || k == K_BBOX)
        return k == K_OTHER ? 1 : fail(c, CQ_EFORMAT, "expected a %s, found a number",
                                       k == K_BBOX ? "4-number array" : "string");
    if (parse_int(s, n, &v))
        return fail(c, CQ_EFORMAT, "expected an integer, found %.*s", (int)(n < 40 ? n : 40), s);
    c->have |= 1 << k;
    switch (k) {
    case K_ID: c->id = v; break;
    case K_IMAGE_ID: c->image_id = v; break;
    case K_CAT_ID: c->cat_id = v; break;
    case K_CROWD: c->crowd = v != 0; break;
    case K_W:
    case K_H:
        if (v < 0 || v > CQ_DS_MAX_SIDE)
            return fail(c, CQ_EFORMAT, "expected an image size in pixels, found %lld", (long long)v);
        *(k == K_W ? &c->iw : &c->ih) = (int32_t)v;
        break;
    }
    return 1;
}

static int on_string(void *ud, const unsigned char *s, size_t n)
{
    coco *c = ud;
    if (c->skip || c->depth == 1)
        return 1;
    if (misplaced(c))
        return 0;
    if (c->depth == 4)
        return fail(c, CQ_EFORMAT, "expected a number in \"bbox\", found a string");
    if ((c->key == K_FILE && c->sec == SEC_IMAGES) || (c->key == K_NAME && c->sec == SEC_CATS)) {
        cq_err e;
        c->str = cq__dataset_intern(c->ds, (const char *)s, n, &e);
        if (c->str == (size_t)-1)
            return fail(c, e.code, "%s", e.msg);
        c->have |= 1 << c->key;
    } else if (c->key != K_OTHER && c->key != K_FILE && c->key != K_NAME) {
        return fail(c, CQ_EFORMAT, "expected a number, found a string");
    }
    return 1;
}

static int on_bool(void *ud, int b)
{
    coco *c = ud;
    if (c->skip || c->depth == 1)
        return 1;
    if (misplaced(c))
        return 0;
    if (c->depth == 3 && c->key == K_CROWD)
        c->crowd = b;
    return 1;
}

static int on_null(void *ud)
{
    coco *c = ud;
    if (c->skip || c->depth == 1)
        return 1;
    return !misplaced(c);
}

static const yajl_callbacks callbacks = {
    on_null, on_bool, NULL, NULL, on_number, on_string,
    on_start_map, on_key, on_end_map, on_start_array, on_end_array,
};

/* ---- driver ---------------------------------------------------------------- */

static void count_lines(coco *c, const char *buf, size_t n)
{
    const char *last = NULL;
    for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++) {
        c->lines_before++;
        last = p;
    }
    c->col_carry = last ? (size_t)(buf + n - last - 1) : c->col_carry + n;
}

/* Turn a yajl status into an error with the place. */
static cq_status syntax_error(coco *c, const unsigned char *buf, size_t n)
{
    if (c->st)
        return c->st;
    unsigned char *msg = yajl_get_error(c->h, 0, buf, n);
    char text[256];
    snprintf(text, sizeof text, "%s", msg ? (const char *)msg : "JSON syntax error");
    if (msg)
        yajl_free_error(c->h, msg);
    text[strcspn(text, "\n")] = '\0';
    fail(c, CQ_EFORMAT, "JSON %s", text);
    return c->st;
}

/* Feed bytes of the file (abs: offset of p in it) to yajl, then count their
 * lines. */
static cq_status feed(coco *c, const char *p, size_t n, uint64_t abs)
{
    if (n == 0)
        return CQ_OK;
    c->chunk = p;
    c->chunk_abs = abs;
    if (yajl_parse(c->h, (const unsigned char *)p, n) != yajl_status_ok)
        return syntax_error(c, (const unsigned char *)p, n);
    count_lines(c, p, n);
    return CQ_OK;
}

/* Would the callbacks throw the value of the key just read away? */
static int ignorable(const coco *c)
{
    return c->skip || (c->depth == 1 && c->topkey == SEC_NONE) || (c->depth == 3 && c->key == K_OTHER);
}

static int is_ws(char ch)
{
    return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

static const char SEG[] = "\"segmentation\"";
enum { SEGN = sizeof SEG - 1 };

/* The value of a key calq ignores starts at b[i] (or after white space): an
 * array or object cq__json_skip vouches for is replaced by "null" (which the
 * callbacks ignore too); anything else goes to yajl. Returns the new i; a
 * value cut by the end of b waits for more bytes when more is set. */
static size_t skip_value(coco *c, const char *b, uint64_t abs0, size_t i, size_t len, int more,
                         cq_status *st)
{
    size_t v = i, end = 0;
    while (v < len && is_ws(b[v]))
        v++;
    int r = v == len                         ? CQ__JSKIP_MORE
            : b[v] == '[' || b[v] == '{' ? cq__json_skip(b + v, len - v, &end)
                                         : CQ__JSKIP_UNSURE;
    if (r == CQ__JSKIP_MORE && more) { /* pend stays set */
        *st = feed(c, b + i, v - i, abs0 + i);
        return v;
    }
    c->pend = 0;
    if (r != CQ__JSKIP_DONE)
        return i;
    *st = feed(c, b + i, v - i, abs0 + i);
    c->chunk = "null";
    if (!*st && yajl_parse(c->h, (const unsigned char *)"null", 4) != yajl_status_ok)
        *st = syntax_error(c, (const unsigned char *)"null", 4);
    count_lines(c, b + v, end);
    c->skipped += end;
    return v + end;
}

/* Consume b[*pos .. len) (b[0] is at offset abs0 of the file): to yajl, or
 * skipped. A candidate is the pattern "segmentation" followed by ':', found
 * even when reads cut it (c->match: pattern bytes already fed). It names a
 * key calq ignores only if yajl, fed up to the colon, has just returned a key
 * ending where the pattern ends and the callbacks' state ignores its value.
 * Pieces are cut only between tokens (yajl places an error in a token begun
 * in an earlier piece at the start of the next one), so messages do not
 * change. more: more bytes can follow in b, so a value cut by the end of b
 * may wait for them; without it everything is consumed. */
static cq_status step(coco *c, const char *b, uint64_t abs0, size_t *pos, size_t len, int more)
{
    size_t i = *pos;
    cq_status st = CQ_OK;
    if (c->noskip) {
        *pos = len;
        return feed(c, b + i, len - i, abs0 + i);
    }
    while (i < len && !st) {
        if (c->pend) {
            i = skip_value(c, b, abs0, i, len, more, &st);
            if (c->pend)
                break; /* the value waits for its end: b[i..) is kept */
            continue;
        }
        size_t k = i; /* the pattern ends at b[k] (at i when fed before) */
        if (c->match < SEGN) {
            if (c->match) { /* a prefix of it ended the last piece */
                size_t m = (size_t)c->match, take = SEGN - m < len - i ? SEGN - m : len - i;
                if (memcmp(b + i, SEG + m, take)) {
                    c->match = 0;
                    continue;
                }
                if (m + take < SEGN) {
                    st = feed(c, b + i, take, abs0 + i);
                    c->match += (int)take;
                    i += take;
                    continue;
                }
                k = i + take;
            } else {
                const char *q = memmem(b + i, len - i, SEG, SEGN);
                if (!q) { /* cut by the end? remember how much of it is there */
                    for (size_t t = len - i > SEGN ? len - (SEGN - 1) : i; t < len; t++)
                        if (b[t] == '"' && memcmp(b + t, SEG, len - t) == 0) {
                            c->match = (int)(len - t);
                            break;
                        }
                    st = feed(c, b + i, len - i, abs0 + i);
                    i = len;
                    break;
                }
                k = (size_t)(q - b) + SEGN;
            }
            c->match = SEGN;
            c->pat_end = abs0 + k;
        }
        size_t j = k; /* white space, then ':'? */
        while (j < len && is_ws(b[j]))
            j++;
        if (j == len) { /* not known yet */
            st = feed(c, b + i, len - i, abs0 + i);
            i = len;
            break;
        }
        c->match = 0;
        if (b[j] != ':') {
            st = feed(c, b + i, k - i, abs0 + i);
            i = k;
            continue;
        }
        for (j++; j < len && is_ws(b[j]); j++)
            ;
        st = feed(c, b + i, j - i, abs0 + i); /* most often one piece up to the value */
        c->pend = !st && c->key_end == c->pat_end && ignorable(c);
        i = j;
    }
    *pos = i;
    return st;
}

static cq_dataset *run(coco *c, FILE *f, const char *mem, size_t memlen, const char *dir,
                       cq__coco_knobs *kn)
{
    /* reads are always rd bytes (so they cut the file where the reference
     * path does); a value waiting for its end may keep up to cap bytes */
    size_t rd = kn && kn->read ? kn->read : (size_t)1 << 20;
    size_t cap = kn && kn->cap > rd ? kn->cap : rd;
    c->noskip = kn && kn->noskip;
    c->key_end = UINT64_MAX;
    c->ds = cq_dataset_new(c->err);
    c->h = c->ds ? yajl_alloc(&callbacks, NULL, c) : NULL;
    if (c->h) /* UTF-8 is not validated: names are passed through as bytes */
        yajl_config(c->h, yajl_dont_validate_strings, 1);
    cq_status st = c->h ? CQ_OK : cq_errf(c->err, CQ_ENOMEM, "%s: out of memory", c->name);
    char *buf = !st ? malloc(cap + rd) : NULL;
    if (!buf && !st)
        st = cq_errf(c->err, CQ_ENOMEM, "%s: out of memory", c->name);
    size_t len = 0, pos = 0, mempos = 0;
    uint64_t abs0 = 0; /* file offset of buf[0] */
    int eof = 0;
    while (!st) {
        memmove(buf, buf + pos, len - pos); /* a value waiting for its end */
        len -= pos;
        abs0 += pos;
        pos = 0;
        size_t n;
        if (f) {
            n = fread(buf + len, 1, rd, f);
            if (ferror(f)) {
                st = cq_errf(c->err, CQ_EIO, "%s: read error: %s", c->name, strerror(errno));
                break;
            }
        } else {
            n = memlen - mempos < rd ? memlen - mempos : rd;
            memcpy(buf + len, mem + mempos, n);
            mempos += n;
        }
        eof = n == 0;
        len += n;
        st = step(c, buf, abs0, &pos, len, !eof && len <= cap);
        if (eof)
            break;
    }
    if (!st) {
        c->chunk = NULL;
        if (yajl_complete_parse(c->h) != yajl_status_ok) {
            long line = c->lines_before + 1, col = (long)c->col_carry + 1;
            st = cq_errf(c->err, CQ_EFORMAT,
                         "%s:%ld:%ld: JSON ends too early: expected the rest of the document", c->name,
                         line, col);
        }
    }
    if (!st)
        st = cq__coco_link(&c->r, c->ds, dir, c->name, c->err);
    if (kn)
        kn->skipped = c->skipped;
    free(buf);
    if (c->h)
        yajl_free(c->h);
    free(c->r.img);
    free(c->r.ann);
    free(c->r.cat);
    if (st) {
        cq_dataset_free(c->ds);
        return NULL;
    }
    return c->ds;
}

cq_dataset *cq__coco_read(const char *path, const char *mem, size_t len, const char *name,
                          const cq_ds_opts *opts, cq__coco_knobs *knobs, cq_err *err)
{
    FILE *f = NULL;
    if (path && !(f = fopen(path, "rb"))) {
        cq_errf(err, CQ_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *dir = opts && opts->image_root ? cq__path_join("", opts->image_root)
                : path                   ? cq__path_dir(path)
                                         : cq__path_join("", "");
    coco c;
    memset(&c, 0, sizeof c);
    c.name = path ? path : name ? name : "<memory>";
    c.err = err;
    cq_dataset *ds = NULL;
    if (!dir)
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", c.name);
    else
        ds = run(&c, f, mem, len, dir, knobs);
    free(dir);
    if (f)
        fclose(f);
    return ds;
}

cq_dataset *cq_ds_read_coco(const char *path, const cq_ds_opts *opts, cq_err *err)
{
    return cq__coco_read(path, NULL, 0, NULL, opts, NULL, err);
}

cq_dataset *cq_ds_read_coco_mem(const char *buf, size_t len, const char *name, cq_err *err)
{
    return cq__coco_read(NULL, buf, len, name, NULL, NULL, err);
}
