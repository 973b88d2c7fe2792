/* ds_yolo.c - YOLO labels: a folder of STEM.txt files, one line per object,
 * "CLASS CX CY W H" with the centre and size normalised to [0, 1].
 *
 * Files are read in name order (classes.txt is the class-name list, not
 * labels). The image of STEM.txt is STEM.jpg, .jpeg, .png, .JPG or .PNG (first
 * found) in opts->image_root, else in the sibling "images" folder when the
 * folder is called "labels" (the Ultralytics layout), else next to the label.
 * YOLO stores no image size, so it is read from the JPEG/PNG header
 * (core/ds_imghdr.c: SOFn / IHDR; nothing is decoded) and boxes are converted
 * to pixels. When the image is missing or unreadable, width = height = 0 and
 * the boxes stay normalised (the image is listed by cq_dataset_check_files).
 * Class names come from classes.txt (or obj.names) in the folder, one per line
 * (line k is class k); without it, the class number is the name. */
#include "data/data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

static const char *const exts[] = {".jpg", ".jpeg", ".png", ".JPG", ".PNG"};

/* Class names (one per line) into categories 0..k-1; missing file is fine. */
static cq_status read_names(cq_dataset *ds, const char *dir, cq_err *err)
{
    static const char *const files[] = {"classes.txt", "obj.names"};
    for (int f = 0; f < 2; f++) {
        char *p = cq__path_join(dir, files[f]);
        if (!p)
            return cq_errf(err, CQ_ENOMEM, "%s: out of memory", dir);
        FILE *fp = fopen(p, "r");
        free(p);
        if (!fp)
            continue;
        char line[512];
        int64_t k = 0;
        while (fgets(line, sizeof line, fp)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (cq_dataset_category(ds, line, k++, err) < 0) {
                fclose(fp);
                return err->code;
            }
        }
        fclose(fp);
        return CQ_OK;
    }
    return CQ_OK;
}

static cq_status read_label(cq_dataset *ds, const char *txt, cq_err *err)
{
    FILE *f = fopen(txt, "r");
    if (!f)
        return cq_errf(err, CQ_EIO, "%s: cannot open: %s", txt, strerror(errno));
    int64_t i = ds->n - 1;
    float W = (float)ds->width[i], H = (float)ds->height[i];
    char line[1024];
    long ln = 0;
    cq_status st = CQ_OK;
    while (!st && fgets(line, sizeof line, f)) {
        ln++;
        if (!strchr(line, '\n') && !feof(f)) {
            st = cq_errf(err, CQ_EFORMAT, "%s:%ld:1: line longer than %zu bytes", txt, ln, sizeof line - 2);
            break;
        }
        char *p = line, *end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\n' || *p == '\r' || *p == '\0')
            continue;
        long cls = strtol(p, &end, 10);
        double v[4];
        int ok = end != p && cls >= 0 && cls < CQ_DS_MAX_CLASS && (*end == ' ' || *end == '\t');
        for (int k = 0; ok && k < 4; k++) {
            p = end;
            v[k] = strtod(p, &end);
            ok = end != p && v[k] == v[k] && v[k] > -1e6 && v[k] < 1e6;
        }
        while (ok && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (!ok || *end) {
            st = cq_errf(err, CQ_EFORMAT, "%s:%ld:%ld: expected 'CLASS CX CY W H' (integer class, 4 numbers)",
                         txt, ln, (long)(end - line) + 1);
            break;
        }
        char name[24];
        snprintf(name, sizeof name, "%ld", cls);
        int32_t c = -1;
        for (int32_t k = 0; k < ds->ncat && c < 0; k++)
            if (ds->cat_id[k] == cls)
                c = k;
        if (c < 0 && (c = cq_dataset_category(ds, name, cls, err)) < 0) {
            st = err->code;
            break;
        }
        float sx = W > 0 ? W : 1, sy = H > 0 ? H : 1;
        st = cq_dataset_add_box(ds, (float)(v[0] - v[2] / 2) * sx, (float)(v[1] - v[3] / 2) * sy,
                                (float)v[2] * sx, (float)v[3] * sy, c, 0, err);
    }
    fclose(f);
    return st;
}

cq_dataset *cq_ds_read_yolo(const char *dir, const cq_ds_opts *opts, cq_err *err)
{
    cq_ds_opts def = {NULL, 1};
    if (!opts)
        opts = &def;
    int n;
    char **names = cq__list_dir(dir, ".txt", &n, err);
    if (!names)
        return NULL;
    cq_dataset *ds = cq_dataset_new(err);
    char *imgdir = cq__image_dir(dir, opts, "labels", "images");
    cq_status st = ds && imgdir ? read_names(ds, dir, err) : cq_errf(err, CQ_ENOMEM, "%s: out of memory", dir);
    for (int i = 0; i < n && !st; i++) {
        if (strcmp(names[i], "classes.txt") == 0)
            continue;
        size_t stem = strlen(names[i]) - 4;
        char *txt = cq__path_join(dir, names[i]);
        char *img = NULL;
        int32_t w = 0, h = 0;
        for (size_t e = 0; txt && e < sizeof exts / sizeof exts[0]; e++) {
            char rel[1100];
            snprintf(rel, sizeof rel, "%.*s%s", (int)stem, names[i], exts[e]);
            free(img);
            if (!(img = cq__path_join(imgdir, rel)))
                break;
            FILE *f = fopen(img, "rb");
            if (f) {
                fclose(f);
                cq_err ignored; /* an unreadable header leaves the size unknown */
                if (opts->read_headers)
                    cq_image_header_size(img, &w, &h, &ignored);
                break;
            }
            if (e + 1 < sizeof exts / sizeof exts[0])
                continue;
            /* none found: keep the .jpg name so the missing file can be listed */
            snprintf(rel, sizeof rel, "%.*s%s", (int)stem, names[i], exts[0]);
            free(img);
            img = cq__path_join(imgdir, rel);
        }
        if (!txt || !img)
            st = cq_errf(err, CQ_ENOMEM, "%s: out of memory", dir);
        else if (cq_dataset_add(ds, img, ds->n + 1, w, h, -1, err) < 0)
            st = err->code;
        else
            st = read_label(ds, txt, err);
        free(txt);
        free(img);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(imgdir);
    if (st) {
        cq_dataset_free(ds);
        return NULL;
    }
    return ds;
}
