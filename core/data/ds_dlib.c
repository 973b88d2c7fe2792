/* ds_dlib.c - dlib imglab XML (<dataset><images><image file= width= height=>
 * <box top= left= width= height= [ignore='1']>[<label>..</label>][<part/>..]</box>).
 *
 * Image paths are relative to the XML file's folder (or opts->image_root).
 * width/height attributes are used when present, else the image header is read.
 * ignore='1' boxes are kept with CQ_BOX_IGNORE and left out of the ground-truth
 * count: dlib's own tools treat them as "neither a face nor a non-face" (they
 * are excluded from both training targets and test scoring), so they are not
 * objects a detector is expected to find. <part> landmarks are skipped. */
#include "data/data_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    cq_dataset *ds;
    const cq_ds_opts *opts;
    char *dir;
    int in_image, in_box, in_label;
    char label[256];
    size_t label_len;
    cq_err *err;
} dlib_state;

static int attr_int(cq__xml *x, const char **attrs, const char *name, int required, int64_t *v)
{
    const char *s = cq__xml_attr(attrs, name);
    if (!s) {
        if (required)
            cq__xml_fail(x, CQ_EFORMAT, "expected attribute %s='INTEGER'", name);
        return -1;
    }
    if (cq__parse_i64(s, v) || *v < -2147483647 || *v > 2147483647) {
        cq__xml_fail(x, CQ_EFORMAT, "attribute %s='%s': expected an integer", name, s);
        return -1;
    }
    return 0;
}

static void on_start(cq__xml *x, const char *name, const char **attrs)
{
    dlib_state *s = cq__xml_ud(x);
    if (strcmp(name, "image") == 0) {
        const char *file = cq__xml_attr(attrs, "file");
        if (!file) {
            cq__xml_fail(x, CQ_EFORMAT, "<image> without file='...': expected the image path");
            return;
        }
        int64_t w = 0, h = 0;
        int has_w = attr_int(x, attrs, "width", 0, &w) == 0;
        int has_h = attr_int(x, attrs, "height", 0, &h) == 0;
        char *path = cq__path_join(s->dir, file);
        if (!path) {
            cq__xml_fail(x, CQ_ENOMEM, "out of memory");
            return;
        }
        if ((!has_w || !has_h) && s->opts->read_headers) {
            int32_t iw, ih;
            cq_err ignored; /* an unreadable header leaves the size unknown */
            if (cq_image_header_size(path, &iw, &ih, &ignored) == CQ_OK)
                w = iw, h = ih;
        }
        cq_err e;
        if (cq_dataset_add(s->ds, path, s->ds->n + 1, (int32_t)w, (int32_t)h, -1, &e) < 0)
            cq__xml_fail(x, e.code, "%s", e.msg);
        free(path);
        s->in_image = 1;
    } else if (strcmp(name, "box") == 0) {
        if (!s->in_image) {
            cq__xml_fail(x, CQ_EFORMAT, "<box> outside <image>");
            return;
        }
        int64_t top, left, w, h, ign = 0;
        if (attr_int(x, attrs, "top", 1, &top) || attr_int(x, attrs, "left", 1, &left) ||
            attr_int(x, attrs, "width", 1, &w) || attr_int(x, attrs, "height", 1, &h))
            return;
        const char *ig = cq__xml_attr(attrs, "ignore");
        if (ig && (cq__parse_i64(ig, &ign) || ign < 0 || ign > 1)) {
            cq__xml_fail(x, CQ_EFORMAT, "attribute ignore='%s': expected 0 or 1", ig);
            return;
        }
        cq_err e;
        if (cq_dataset_add_box(s->ds, (float)left, (float)top, (float)w, (float)h, -1,
                               ign ? CQ_BOX_IGNORE : 0, &e))
            cq__xml_fail(x, e.code, "%s", e.msg);
        s->in_box = 1;
    } else if (strcmp(name, "label") == 0 && s->in_box) {
        s->in_label = 1;
        s->label_len = 0;
    }
}

static void on_text(cq__xml *x, const char *t, int len)
{
    dlib_state *s = cq__xml_ud(x);
    if (!s->in_label)
        return;
    if (s->label_len + (size_t)len >= sizeof s->label) {
        cq__xml_fail(x, CQ_EFORMAT, "<label> longer than %zu bytes", sizeof s->label - 1);
        return;
    }
    memcpy(s->label + s->label_len, t, (size_t)len);
    s->label_len += (size_t)len;
}

static void on_end(cq__xml *x, const char *name)
{
    dlib_state *s = cq__xml_ud(x);
    if (strcmp(name, "image") == 0) {
        s->in_image = 0;
    } else if (strcmp(name, "box") == 0) {
        s->in_box = 0;
    } else if (strcmp(name, "label") == 0 && s->in_label) {
        s->in_label = 0;
        s->label[s->label_len] = '\0';
        cq_err e;
        int32_t c = cq_dataset_category(s->ds, s->label, -1, &e);
        if (c < 0)
            cq__xml_fail(x, e.code, "%s", e.msg);
        else
            s->ds->box_label[s->ds->nboxes - 1] = c;
    }
}

cq_dataset *cq_ds_read_dlib(const char *path, const cq_ds_opts *opts, cq_err *err)
{
    cq_ds_opts def = {NULL, 1};
    dlib_state s;
    memset(&s, 0, sizeof s);
    s.opts = opts ? opts : &def;
    s.err = err;
    s.ds = cq_dataset_new(err);
    s.dir = s.opts->image_root ? cq__path_join("", s.opts->image_root) : cq__path_dir(path);
    if (!s.ds || !s.dir) {
        cq_dataset_free(s.ds);
        free(s.dir);
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    cq__xml_handlers h = {on_start, on_end, on_text, &s};
    cq_status st = cq__xml_parse_file(path, &h, err);
    free(s.dir);
    if (st) {
        cq_dataset_free(s.ds);
        return NULL;
    }
    return s.ds;
}
