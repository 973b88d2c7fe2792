/* dataset.c - the record store (see dataset.h): growth, arena, categories, checks. */
#include "data/data_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t *slot; /* category index + 1; 0 = empty */
    uint32_t cap;  /* power of two */
} cat_hash;

cq_dataset *cq_dataset_new(cq_err *err)
{
    cq_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        cq_errf(err, CQ_ENOMEM, "dataset: out of memory");
    return ds;
}

void cq_dataset_free(cq_dataset *ds)
{
    if (!ds)
        return;
    free(ds->id);
    free(ds->path);
    free(ds->width);
    free(ds->height);
    free(ds->count);
    free(ds->box_first);
    free(ds->box_n);
    free(ds->box);
    free(ds->box_label);
    free(ds->box_flags);
    free(ds->cat_name);
    free(ds->cat_id);
    free(ds->str);
    cat_hash *h = ds->cat_index_;
    if (h)
        free(h->slot);
    free(h);
    free(ds);
}

/* realloc *p to n elements of size sz; 0 on success. */
static int grow(void *pp, size_t n, size_t sz)
{
    void **p = pp;
    if (n > SIZE_MAX / sz)
        return -1;
    void *q = realloc(*p, n * sz);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

static cq_status reserve_images(cq_dataset *ds, int64_t need, cq_err *err)
{
    if (need <= ds->cap_)
        return CQ_OK;
    if (need > CQ_DS_MAX_IMAGES)
        return cq_errf(err, CQ_ENOMEM, "dataset: more than %lld images", (long long)CQ_DS_MAX_IMAGES);
    int64_t cap = ds->cap_ ? ds->cap_ * 2 : 64;
    while (cap < need)
        cap *= 2;
    size_t c = (size_t)cap;
    if (grow(&ds->id, c, sizeof *ds->id) || grow(&ds->path, c, sizeof *ds->path) ||
        grow(&ds->width, c, sizeof *ds->width) || grow(&ds->height, c, sizeof *ds->height) ||
        grow(&ds->count, c, sizeof *ds->count) || grow(&ds->box_first, c, sizeof *ds->box_first) ||
        grow(&ds->box_n, c, sizeof *ds->box_n))
        return cq_errf(err, CQ_ENOMEM, "dataset: out of memory for %lld images", (long long)cap);
    ds->cap_ = cap;
    return CQ_OK;
}

static cq_status reserve_boxes(cq_dataset *ds, int64_t need, cq_err *err)
{
    if (need <= ds->box_cap_)
        return CQ_OK;
    if (need > CQ_DS_MAX_BOXES)
        return cq_errf(err, CQ_ENOMEM, "dataset: more than %lld boxes", (long long)CQ_DS_MAX_BOXES);
    int64_t cap = ds->box_cap_ ? ds->box_cap_ * 2 : 256;
    while (cap < need)
        cap *= 2;
    size_t c = (size_t)cap;
    if (grow(&ds->box, c, 4 * sizeof *ds->box) || grow(&ds->box_label, c, sizeof *ds->box_label) ||
        grow(&ds->box_flags, c, sizeof *ds->box_flags))
        return cq_errf(err, CQ_ENOMEM, "dataset: out of memory for %lld boxes", (long long)cap);
    ds->box_cap_ = cap;
    return CQ_OK;
}

size_t cq__dataset_intern(cq_dataset *ds, const char *s, size_t len, cq_err *err)
{
    if (len > CQ_DS_MAX_STRING) {
        cq_errf(err, CQ_ENOMEM, "dataset: string of %zu bytes (limit %d)", len, CQ_DS_MAX_STRING);
        return (size_t)-1;
    }
    if (ds->str_len + len + 1 > ds->str_cap_) {
        size_t cap = ds->str_cap_ ? ds->str_cap_ * 2 : 4096;
        while (cap < ds->str_len + len + 1)
            cap *= 2;
        if (grow(&ds->str, cap, 1)) {
            cq_errf(err, CQ_ENOMEM, "dataset: out of memory for strings");
            return (size_t)-1;
        }
        ds->str_cap_ = cap;
    }
    size_t off = ds->str_len;
    memcpy(ds->str + off, s, len);
    ds->str[off + len] = '\0';
    ds->str_len += len + 1;
    return off;
}

int64_t cq_dataset_add(cq_dataset *ds, const char *path, int64_t id, int32_t width,
                       int32_t height, int32_t count, cq_err *err)
{
    if (reserve_images(ds, ds->n + 1, err))
        return -1;
    size_t off = cq__dataset_intern(ds, path, strlen(path), err);
    if (off == (size_t)-1)
        return -1;
    int64_t i = ds->n++;
    ds->id[i] = id;
    ds->path[i] = off;
    ds->width[i] = width > 0 ? width : 0;
    ds->height[i] = height > 0 ? height : 0;
    ds->count[i] = count >= 0 ? count : 0;
    ds->last_auto_ = count < 0; /* the count follows the boxes added next */
    ds->box_first[i] = ds->nboxes;
    ds->box_n[i] = 0;
    return i;
}

static int box_outside(const float *b, int32_t w, int32_t h)
{
    /* half a pixel of slack: annotation tools round */
    const float e = 0.5f;
    return b[0] < -e || b[1] < -e || b[2] < 0 || b[3] < 0 || b[0] + b[2] > (float)w + e ||
           b[1] + b[3] > (float)h + e;
}

cq_status cq_dataset_add_box(cq_dataset *ds, float x, float y, float w, float h, int32_t label,
                             unsigned flags, cq_err *err)
{
    if (ds->n == 0)
        return cq_errf(err, CQ_ESTATE, "dataset: box added before any image");
    if (reserve_boxes(ds, ds->nboxes + 1, err))
        return err->code;
    int64_t i = ds->n - 1, b = ds->nboxes++;
    float *p = ds->box + 4 * b;
    p[0] = x, p[1] = y, p[2] = w, p[3] = h;
    ds->box_label[b] = label;
    flags &= CQ_BOX_IGNORE | CQ_BOX_LABEL_ONLY;
    if (!(flags & CQ_BOX_LABEL_ONLY) && ds->width[i] > 0 && ds->height[i] > 0 && box_outside(p, ds->width[i], ds->height[i])) {
        flags |= CQ_BOX_OUTSIDE;
        ds->boxes_outside++;
    }
    if (flags & CQ_BOX_IGNORE)
        ds->boxes_ignored++;
    ds->box_flags[b] = (uint8_t)flags;
    ds->box_n[i]++;
    if (ds->last_auto_ && !(flags & (CQ_BOX_IGNORE | CQ_BOX_LABEL_ONLY)))
        ds->count[i]++;
    return CQ_OK;
}

/* ---- categories: open addressing on FNV-1a of the name ------------------- */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int cat_rehash(cq_dataset *ds, uint32_t cap)
{
    cat_hash *h = ds->cat_index_;
    int32_t *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return -1;
    for (int32_t c = 0; c < ds->ncat; c++) {
        uint32_t k = hash_str(cq_dataset_cat_name(ds, c)) & (cap - 1);
        while (slot[k])
            k = (k + 1) & (cap - 1);
        slot[k] = c + 1;
    }
    free(h->slot);
    h->slot = slot;
    h->cap = cap;
    return 0;
}

int32_t cq_dataset_category(cq_dataset *ds, const char *name, int64_t id, cq_err *err)
{
    cat_hash *h = ds->cat_index_;
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h || (ds->cat_index_ = h, cat_rehash(ds, 64))) {
            cq_errf(err, CQ_ENOMEM, "dataset: out of memory for categories");
            return -1;
        }
    }
    uint32_t k = hash_str(name) & (h->cap - 1);
    while (h->slot[k]) {
        int32_t c = h->slot[k] - 1;
        if (strcmp(cq_dataset_cat_name(ds, c), name) == 0)
            return c;
        k = (k + 1) & (h->cap - 1);
    }
    if (ds->ncat >= CQ_DS_MAX_CATEGORIES) {
        cq_errf(err, CQ_ENOMEM, "dataset: more than %d categories", CQ_DS_MAX_CATEGORIES);
        return -1;
    }
    if (ds->ncat == ds->cat_cap_) {
        int32_t cap = ds->cat_cap_ ? ds->cat_cap_ * 2 : 16;
        if (grow(&ds->cat_name, (size_t)cap, sizeof *ds->cat_name) ||
            grow(&ds->cat_id, (size_t)cap, sizeof *ds->cat_id)) {
            cq_errf(err, CQ_ENOMEM, "dataset: out of memory for categories");
            return -1;
        }
        ds->cat_cap_ = cap;
    }
    size_t off = cq__dataset_intern(ds, name, strlen(name), err);
    if (off == (size_t)-1)
        return -1;
    int32_t c = ds->ncat++;
    ds->cat_name[c] = off;
    ds->cat_id[c] = id >= 0 ? id : c + 1;
    h->slot[k] = c + 1;
    if ((uint32_t)ds->ncat * 2 > h->cap && cat_rehash(ds, h->cap * 2)) {
        cq_errf(err, CQ_ENOMEM, "dataset: out of memory for categories");
        return -1;
    }
    return c;
}

cq_status cq_dataset_append(cq_dataset *dst, const cq_dataset *src, cq_err *err)
{
    if (dst == src)
        return cq_errf(err, CQ_EINVAL, "dataset: cannot append a dataset to itself");
    int32_t *map = malloc((size_t)(src->ncat ? src->ncat : 1) * sizeof *map);
    if (!map)
        return cq_errf(err, CQ_ENOMEM, "dataset: out of memory");
    cq_status st = CQ_OK;
    for (int32_t c = 0; c < src->ncat && !st; c++)
        if ((map[c] = cq_dataset_category(dst, cq_dataset_cat_name(src, c), src->cat_id[c], err)) < 0)
            st = err->code;
    for (int64_t i = 0; i < src->n && !st; i++) {
        if (cq_dataset_add(dst, cq_dataset_path(src, i), src->id[i], src->width[i], src->height[i],
                           src->count[i], err) < 0) {
            st = err->code;
            break;
        }
        for (int64_t b = src->box_first[i]; b < src->box_first[i] + src->box_n[i] && !st; b++) {
            const float *p = src->box + 4 * b;
            int32_t l = src->box_label[b];
            st = cq_dataset_add_box(dst, p[0], p[1], p[2], p[3], l >= 0 ? map[l] : -1,
                                    src->box_flags[b], err);
        }
    }
    if (!st)
        dst->boxes_dropped += src->boxes_dropped;
    free(map);
    return st;
}

/* ---- queries ------------------------------------------------------------ */

void cq_dataset_histogram(const cq_dataset *ds, const int64_t *idx, int64_t n, int64_t *hist,
                          int nbins)
{
    if (nbins <= 0)
        return;
    memset(hist, 0, (size_t)nbins * sizeof *hist);
    if (!idx)
        n = ds->n;
    for (int64_t k = 0; k < n; k++) {
        int32_t c = ds->count[idx ? idx[k] : k];
        hist[c < 0 ? 0 : c >= nbins - 1 ? nbins - 1 : c]++;
    }
}

int64_t cq_dataset_check_files(const cq_dataset *ds, int64_t **missing, cq_err *err)
{
    int64_t n = 0, cap = 0;
    int64_t *m = NULL;
    *missing = NULL;
    for (int64_t i = 0; i < ds->n; i++) {
        FILE *f = fopen(cq_dataset_path(ds, i), "rb");
        if (f) {
            fclose(f);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            if (grow(&m, (size_t)cap, sizeof *m)) {
                free(m);
                cq_errf(err, CQ_ENOMEM, "dataset: out of memory listing missing files");
                return -1;
            }
        }
        m[n++] = i;
    }
    *missing = m;
    return n;
}

/* ---- the dispatcher and small helpers ------------------------------------ */

cq_dataset *cq_dataset_read(const char *path, const char *format, const cq_ds_opts *opts,
                            cq_err *err)
{
    cq_dataset *ds = NULL;
    if (!path || !format) {
        cq_errf(err, CQ_EINVAL, "dataset: no path or format given");
        return NULL;
    }
    if (strcmp(format, "coco") == 0)
        ds = cq_ds_read_coco(path, opts, err);
    else if (strcmp(format, "voc") == 0)
        ds = cq_ds_read_voc(path, opts, err);
    else if (strcmp(format, "yolo") == 0)
        ds = cq_ds_read_yolo(path, opts, err);
    else if (strcmp(format, "dlib") == 0)
        ds = cq_ds_read_dlib(path, opts, err);
    else if (strcmp(format, "csv") == 0 || strcmp(format, "tsv") == 0)
        ds = cq_ds_read_csv(path, opts, err);
    else {
        cq_errf(err, CQ_EINVAL, "dataset: unknown format '%s' (coco, voc, yolo, dlib, csv, tsv)", format);
        return NULL;
    }
    return ds;
}

char *cq__image_dir(const char *dir, const cq_ds_opts *opts, const char *ann, const char *img)
{
    if (opts->image_root)
        return cq__path_join("", opts->image_root);
    size_t n = strlen(dir), na = strlen(ann), ni = strlen(img);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n >= na && strncmp(dir + n - na, ann, na) == 0 && (n == na || dir[n - na - 1] == '/')) {
        size_t size = n - na + ni + 1;
        char *s = malloc(size);
        if (s)
            snprintf(s, size, "%.*s%s", (int)(n - na), dir, img);
        return s;
    }
    return cq__path_join("", dir);
}

char *cq__path_join(const char *dir, const char *rel)
{
    size_t dn = dir ? strlen(dir) : 0, rn = strlen(rel);
    if (rel[0] == '/' || dn == 0 || (dn == 1 && dir[0] == '.'))
        dn = 0;
    char *s = malloc(dn + rn + 2);
    if (!s)
        return NULL;
    if (dn) {
        memcpy(s, dir, dn);
        if (dir[dn - 1] != '/')
            s[dn++] = '/';
    }
    memcpy(s + dn, rel, rn + 1);
    return s;
}

char *cq__path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (slash && n == 0)
        n = 1; /* "/x" -> "/" */
    char *s = malloc(n + 2);
    if (!s)
        return NULL;
    if (!slash) {
        strcpy(s, ".");
        return s;
    }
    memcpy(s, path, n);
    s[n] = '\0';
    return s;
}

int cq__parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    while (end != s && isspace((unsigned char)*end))
        end++;
    if (end == s || *end || errno)
        return -1;
    *v = x;
    return 0;
}

int cq__parse_f32(const char *s, float *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    while (end != s && isspace((unsigned char)*end))
        end++;
    if (end == s || *end || errno || x != x || x > 3e38 || x < -3e38)
        return -1;
    *v = (float)x;
    return 0;
}
