/* ds_voc.c - Pascal VOC: a folder of XML files, one per image
 * (<annotation><filename/><size><width/><height/></size>
 *  <object><name/><difficult/><bndbox><xmin/><ymin/><xmax/><ymax/></bndbox></object>).
 *
 * Files are read in name order (*.xml). Images live in opts->image_root, else
 * in ../JPEGImages when the folder is called Annotations (the VOC layout),
 * else next to the XML. VOC corners are 1-based and inclusive, so the box is
 * x = xmin - 1, y = ymin - 1, w = xmax - xmin + 1, h = ymax - ymin + 1.
 * <difficult>1</difficult> objects are kept with CQ_BOX_IGNORE (VOC's own
 * evaluation ignores them). <part> boxes (person layout) are skipped.
 * Without <size>, the image header is read. */
#include "data/data_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

typedef struct {
    float x0, y0, x1, y1;
    int have; /* bit per coordinate */
    int difficult;
    char name[128];
} voc_obj;

typedef struct {
    char path[64][32]; /* element stack (names cut at 31 bytes) */
    int depth;
    char text[512];
    size_t text_len;
    char filename[1024];
    int64_t width, height;
    voc_obj *obj;
    int nobj, capobj;
} voc_state;

static void on_start(cq__xml *x, const char *name, const char **attrs)
{
    (void)attrs;
    voc_state *s = cq__xml_ud(x);
    if (s->depth == 64) {
        cq__xml_fail(x, CQ_EFORMAT, "elements nested deeper than 64");
        return;
    }
    snprintf(s->path[s->depth++], sizeof s->path[0], "%s", name);
    s->text_len = 0;
    if (strcmp(name, "object") == 0) {
        if (s->nobj == s->capobj) {
            int cap = s->capobj ? s->capobj * 2 : 16;
            voc_obj *o = cap > 1 << 20 ? NULL : realloc(s->obj, (size_t)cap * sizeof *o);
            if (!o) {
                cq__xml_fail(x, CQ_ENOMEM, "too many objects");
                return;
            }
            s->obj = o;
            s->capobj = cap;
        }
        memset(&s->obj[s->nobj++], 0, sizeof *s->obj);
    }
}

static void on_text(cq__xml *x, const char *t, int len)
{
    voc_state *s = cq__xml_ud(x);
    if (s->text_len + (size_t)len >= sizeof s->text) {
        cq__xml_fail(x, CQ_EFORMAT, "text longer than %zu bytes", sizeof s->text - 1);
        return;
    }
    memcpy(s->text + s->text_len, t, (size_t)len);
    s->text_len += (size_t)len;
}

/* Trimmed element text. */
static char *text(voc_state *s)
{
    s->text[s->text_len] = '\0';
    char *t = s->text;
    while (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\n' || t[n - 1] == '\t' || t[n - 1] == '\r'))
        t[--n] = '\0';
    return t;
}

static void on_end(cq__xml *x, const char *name)
{
    voc_state *s = cq__xml_ud(x);
    const char *parent = s->depth >= 2 ? s->path[s->depth - 2] : "";
    char *t = text(s);
    voc_obj *o = s->nobj ? &s->obj[s->nobj - 1] : NULL;
    int64_t v;
    float f;
    if (strcmp(parent, "annotation") == 0 && strcmp(name, "filename") == 0) {
        snprintf(s->filename, sizeof s->filename, "%s", t);
    } else if (strcmp(parent, "size") == 0 &&
               (strcmp(name, "width") == 0 || strcmp(name, "height") == 0)) {
        if (cq__parse_i64(t, &v) || v < 0 || v > CQ_DS_MAX_SIDE) {
            cq__xml_fail(x, CQ_EFORMAT, "<%s>%s</%s>: expected a size in pixels", name, t, name);
            return;
        }
        *(name[0] == 'w' ? &s->width : &s->height) = v;
    } else if (o && strcmp(parent, "object") == 0 && strcmp(name, "name") == 0) {
        size_t n = strlen(t);
        if (n >= sizeof o->name) {
            cq__xml_fail(x, CQ_EFORMAT, "<name>: class name of %zu bytes (at most %zu)", n,
                         sizeof o->name - 1);
            return;
        }
        memcpy(o->name, t, n + 1);
    } else if (o && strcmp(parent, "object") == 0 && strcmp(name, "difficult") == 0) {
        o->difficult = strcmp(t, "1") == 0;
    } else if (o && strcmp(parent, "bndbox") == 0 && s->depth >= 3 &&
               strcmp(s->path[s->depth - 3], "object") == 0) { /* not a <part>'s box */
        static const char *const k[4] = {"xmin", "ymin", "xmax", "ymax"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(name, k[i]) != 0)
                continue;
            if (cq__parse_f32(t, &f)) {
                cq__xml_fail(x, CQ_EFORMAT, "<%s>%s</%s>: expected a number", name, t, name);
                return;
            }
            (&o->x0)[i] = f;
            o->have |= 1 << i;
        }
    } else if (o && strcmp(name, "object") == 0 && o->have != 15) {
        cq__xml_fail(x, CQ_EFORMAT, "<object> without a complete <bndbox>: expected xmin, ymin, xmax, ymax");
        return;
    }
    s->depth--;
    s->text_len = 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **cq__list_dir(const char *dir, const char *ext, int *n, cq_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        cq_errf(err, CQ_EIO, "%s: cannot open the folder: %s", dir, strerror(errno));
        return NULL;
    }
    char **v = NULL;
    int cap = 0;
    *n = 0;
    struct dirent *e;
    size_t el = strlen(ext);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= el || strcmp(e->d_name + l - el, ext) != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **w = realloc(v, (size_t)cap * sizeof *v);
            if (!w)
                goto oom;
            v = w;
        }
        if (!(v[*n] = strdup(e->d_name)))
            goto oom;
        (*n)++;
    }
    closedir(d);
    if (!v)
        v = malloc(sizeof *v);
    if (!v) {
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", dir);
        return NULL;
    }
    qsort(v, (size_t)*n, sizeof *v, by_name);
    return v;
oom:
    closedir(d);
    for (int i = 0; i < *n; i++)
        free(v[i]);
    free(v);
    cq_errf(err, CQ_ENOMEM, "%s: out of memory", dir);
    return NULL;
}

static cq_status add_file(cq_dataset *ds, voc_state *s, const char *imgdir, const char *xml,
                          const cq_ds_opts *opts, cq_err *err)
{
    if (!s->filename[0])
        return cq_errf(err, CQ_EFORMAT, "%s: no <filename>: expected the image file name", xml);
    char *path = cq__path_join(imgdir, s->filename);
    if (!path)
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory", xml);
    if ((s->width <= 0 || s->height <= 0) && opts->read_headers) {
        int32_t w, h;
        cq_err ignored; /* an unreadable header leaves the size unknown */
        if (cq_image_header_size(path, &w, &h, &ignored) == CQ_OK)
            s->width = w, s->height = h;
    }
    int64_t i = cq_dataset_add(ds, path, ds->n + 1, (int32_t)s->width, (int32_t)s->height, -1, err);
    free(path);
    if (i < 0)
        return err->code;
    for (int k = 0; k < s->nobj; k++) {
        voc_obj *o = &s->obj[k];
        int32_t c = o->name[0] ? cq_dataset_category(ds, o->name, -1, err) : -1;
        if (o->name[0] && c < 0)
            return err->code;
        cq_status st = cq_dataset_add_box(ds, o->x0 - 1, o->y0 - 1, o->x1 - o->x0 + 1,
                                          o->y1 - o->y0 + 1, c, o->difficult ? CQ_BOX_IGNORE : 0, err);
        if (st)
            return st;
    }
    return CQ_OK;
}

cq_dataset *cq_ds_read_voc(const char *dir, const cq_ds_opts *opts, cq_err *err)
{
    cq_ds_opts def = {NULL, 1};
    if (!opts)
        opts = &def;
    int n;
    char **names = cq__list_dir(dir, ".xml", &n, err);
    if (!names)
        return NULL;
    cq_dataset *ds = cq_dataset_new(err);
    char *imgdir = cq__image_dir(dir, opts, "Annotations", "JPEGImages");
    voc_state *s = calloc(1, sizeof *s);
    cq_status st = ds && imgdir && s ? CQ_OK : cq_errf(err, CQ_ENOMEM, "%s: out of memory", dir);
    for (int i = 0; i < n && !st; i++) {
        char *xml = cq__path_join(dir, names[i]);
        if (!xml) {
            st = cq_errf(err, CQ_ENOMEM, "%s: out of memory", dir);
            break;
        }
        voc_obj *keep = s->obj;
        int cap = s->capobj;
        memset(s, 0, sizeof *s);
        s->obj = keep, s->capobj = cap;
        cq__xml_handlers h = {on_start, on_end, on_text, s};
        st = cq__xml_parse_file(xml, &h, err);
        if (!st)
            st = add_file(ds, s, imgdir, xml, opts, err);
        free(xml);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(imgdir);
    if (s)
        free(s->obj);
    free(s);
    if (st) {
        cq_dataset_free(ds);
        return NULL;
    }
    return ds;
}
