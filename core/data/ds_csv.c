/* ds_csv.c - a plain manifest: one image per line, "path,count[,labels]".
 *
 * - The separator is a tab when the first line holds a tab, else a comma.
 * - A first line whose second field is not an integer is a header naming the
 *   columns: path (or file, image), count, labels, width, height, in any order;
 *   other columns are ignored. Without a header: path, count, labels.
 * - Fields may be quoted ("a,b" with "" for a quote), within one line.
 * - labels: class names separated by ';' or spaces, stored as image-level
 *   labels (boxes flagged CQ_BOX_LABEL_ONLY, no geometry).
 * - count must be an integer >= 0; it is the ground-truth count (no boxes).
 * - Paths are relative to the manifest's folder (or opts->image_root).
 *   Without width/height columns, the image header is read (JPEG/PNG, no decode).
 * - Empty lines and lines starting with '#' are skipped. */
#include "data/data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#define MAX_FIELDS 32

enum { COL_PATH, COL_COUNT, COL_LABELS, COL_W, COL_H, NCOL };

/* Split line in place; returns the field count or -1 (col set to the bad column). */
static int split(char *line, char sep, char **f, long *col)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == MAX_FIELDS) {
            *col = (long)(p - line) + 1;
            return -1;
        }
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            for (;;) {
                if (*p == '\0') {
                    *col = (long)(p - line) + 1;
                    return -1;
                }
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            *w = '\0';
            if (*p != sep && *p != '\0') {
                *col = (long)(p - line) + 1;
                return -1;
            }
        } else {
            f[n++] = p;
            while (*p && *p != sep)
                p++;
        }
        if (*p == '\0')
            return n;
        *p++ = '\0';
    }
}

static int col_of(const char *name)
{
    static const char *const names[][2] = {{"path", "file"}, {"count", "count"},
                                           {"labels", "label"}, {"width", "width"},
                                           {"height", "height"}};
    if (strcmp(name, "image") == 0)
        return COL_PATH;
    for (int c = 0; c < NCOL; c++)
        if (strcmp(name, names[c][0]) == 0 || strcmp(name, names[c][1]) == 0)
            return c;
    return -1;
}

static cq_status add_labels(cq_dataset *ds, char *s, cq_err *err)
{
    for (char *tok = strtok(s, "; "); tok; tok = strtok(NULL, "; ")) {
        int32_t c = cq_dataset_category(ds, tok, -1, err);
        if (c < 0)
            return err->code;
        cq_status st = cq_dataset_add_box(ds, 0, 0, 0, 0, c, CQ_BOX_LABEL_ONLY, err);
        if (st)
            return st;
    }
    return CQ_OK;
}

cq_dataset *cq_ds_read_csv(const char *path, const cq_ds_opts *opts, cq_err *err)
{
    cq_ds_opts def = {NULL, 1};
    if (!opts)
        opts = &def;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        cq_errf(err, CQ_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    cq_dataset *ds = cq_dataset_new(err);
    char *dir = opts->image_root ? cq__path_join("", opts->image_root) : cq__path_dir(path);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    long ln = 0;
    int map[NCOL] = {0, 1, 2, -1, -1}; /* column index of each field, -1 = absent */
    char sep = 0;
    int decided = 0;
    cq_status st = ds && dir ? CQ_OK : cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
    while (!st && (len = getline(&line, &lcap, fp)) != -1) {
        ln++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        if (!sep)
            sep = strchr(line, '\t') ? '\t' : ',';
        char *f[MAX_FIELDS];
        long col = 1;
        int n = split(line, sep, f, &col);
        if (n < 0) {
            st = cq_errf(err, CQ_EFORMAT, "%s:%ld:%ld: bad field: expected a closing quote followed by '%s' or the line end, at most %d fields",
                         path, ln, col, sep == '\t' ? "\\t" : ",", MAX_FIELDS);
            break;
        }
        int64_t v;
        if (!decided) {
            decided = 1;
            if (n < 2 || cq__parse_i64(f[1], &v)) { /* a header */
                for (int c = 0; c < NCOL; c++)
                    map[c] = -1;
                for (int i = 0; i < n; i++) {
                    int c = col_of(f[i]);
                    if (c >= 0 && map[c] < 0)
                        map[c] = i;
                }
                if (map[COL_PATH] < 0 || map[COL_COUNT] < 0)
                    st = cq_errf(err, CQ_EFORMAT, "%s:%ld:1: header: expected columns 'path' and 'count' (or a first line 'PATH,COUNT')",
                                 path, ln);
                continue;
            }
        }
        int need = map[COL_PATH] > map[COL_COUNT] ? map[COL_PATH] : map[COL_COUNT];
        if (n <= need || !f[map[COL_PATH]][0]) {
            st = cq_errf(err, CQ_EFORMAT, "%s:%ld:%ld: expected a path and a count (%d fields, found %d)",
                         path, ln, (long)len + 1, need + 1, n);
            break;
        }
        char *cf = f[map[COL_COUNT]];
        if (cq__parse_i64(cf, &v) || v < 0 || v > CQ_DS_MAX_COUNT) {
            st = cq_errf(err, CQ_EFORMAT, "%s:%ld:%ld: count '%s': expected an integer >= 0",
                         path, ln, (long)(cf - line) + 1, cf);
            break;
        }
        int64_t wh[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            int c = map[COL_W + k];
            if (c < 0 || c >= n || !f[c][0])
                continue;
            if (cq__parse_i64(f[c], &wh[k]) || wh[k] <= 0 || wh[k] > CQ_DS_MAX_SIDE) {
                st = cq_errf(err, CQ_EFORMAT, "%s:%ld:%ld: %s '%s': expected a size in pixels",
                             path, ln, (long)(f[c] - line) + 1, k ? "height" : "width", f[c]);
                break;
            }
        }
        if (st)
            break;
        char *img = cq__path_join(dir, f[map[COL_PATH]]);
        if (!img) {
            st = cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
            break;
        }
        if ((!wh[0] || !wh[1]) && opts->read_headers) {
            int32_t w, h;
            cq_err ignored; /* an unreadable header leaves the size unknown */
            if (cq_image_header_size(img, &w, &h, &ignored) == CQ_OK)
                wh[0] = w, wh[1] = h;
        }
        if (cq_dataset_add(ds, img, ds->n + 1, (int32_t)wh[0], (int32_t)wh[1], (int32_t)v, err) < 0)
            st = err->code;
        free(img);
        if (!st && map[COL_LABELS] >= 0 && map[COL_LABELS] < n)
            st = add_labels(ds, f[map[COL_LABELS]], err);
    }
    free(line);
    fclose(fp);
    free(dir);
    if (st) {
        cq_dataset_free(ds);
        return NULL;
    }
    return ds;
}
