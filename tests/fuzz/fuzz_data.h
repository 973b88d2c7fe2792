/*
 * fuzz_data.h - what the annotation-reader harnesses (fuzz_coco, voc, yolo,
 * dlib, csv) share: splitting one input into the files of a data set, and
 * the invariants a dataset that was read must keep (dataset.h).
 */
#ifndef CQ_FUZZ_DATA_H
#define CQ_FUZZ_DATA_H

#include "fuzz_util.h"
#include "data/dataset.h"

/* Split data at its NUL bytes into at most max parts (the last part keeps
 * the rest, NULs included); returns the count. Part k: p[k], n[k]. */
static inline int fuzz_split(const uint8_t *data, size_t size, int max, const uint8_t **p,
                             size_t *n)
{
    int k = 0;
    while (k < max - 1) {
        const uint8_t *z = memchr(data, 0, size);
        if (!z) break;
        p[k] = data;
        n[k++] = (size_t)(z - data);
        size -= (size_t)(z - data) + 1;
        data = z + 1;
    }
    p[k] = data;
    n[k++] = size;
    return k;
}

/* Every index in range, every count and flag consistent; then the helpers
 * that read a dataset whole. */
static inline void fuzz_check_dataset(const cq_dataset *ds)
{
    int64_t boxes = 0, outside = 0, ignored = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->path[i] >= ds->str_len || ds->box_n[i] < 0 || ds->box_first[i] != boxes
            || ds->width[i] < 0 || ds->height[i] < 0 || ds->count[i] < 0)
            abort();
        boxes += ds->box_n[i];
        (void)cq_dataset_path(ds, i);
    }
    if (boxes != ds->nboxes) abort();
    for (int64_t b = 0; b < ds->nboxes; b++) {
        if (ds->box_label[b] < -1 || ds->box_label[b] >= ds->ncat) abort();
        outside += (ds->box_flags[b] & CQ_BOX_OUTSIDE) != 0;
        ignored += (ds->box_flags[b] & CQ_BOX_IGNORE) != 0;
    }
    if (outside != ds->boxes_outside || ignored != ds->boxes_ignored) abort();
    for (int32_t c = 0; c < ds->ncat; c++)
        if (ds->cat_name[c] >= ds->str_len || !cq_dataset_cat_name(ds, c)) abort();
    if (ds->n > 0) {
        int64_t hist[8];
        cq_dataset_histogram(ds, NULL, ds->n, hist, 8);
    }
    cq_err err;
    int64_t *missing = NULL;
    int64_t m = cq_dataset_check_files(ds, &missing, &err);
    if (m < 0) fuzz_check_err(&err, "cq_dataset_check_files");
    else if (m > ds->n) abort();
    free(missing);
}

/* Read with reader(path, opts), check the result or the error. */
static inline void fuzz_read_dataset(cq_dataset *(*reader)(const char *, const cq_ds_opts *,
                                                           cq_err *),
                                     const char *path, const char *what)
{
    cq_err err;
    cq_ds_opts opts = {.image_root = NULL, .read_headers = 1};
    cq_dataset *ds = reader(path, &opts, &err);
    if (!ds) fuzz_check_err(&err, what);
    else fuzz_check_dataset(ds);
    cq_dataset_free(ds);
}

#endif
