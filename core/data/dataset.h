/*
 * dataset.h - annotated image sets in compact C arrays.
 *
 * A cq_dataset holds one record per image (id, path, width, height, boxes,
 * class labels, ground-truth count) in struct-of-arrays form: every per-image
 * field is one array indexed 0..n-1, the boxes of all images sit in one box
 * array (image i owns boxes box_first[i] .. box_first[i] + box_n[i] - 1), and
 * every string lives in one arena (offsets, not pointers, so the arena can
 * grow). Nothing here is a Lua table; the binding (bindings/l_data.c) shows
 * records to Lua on demand.
 *
 * Readers (one per file, core/ds_*.c) fill a dataset from annotation files:
 *
 *     format  what                                   image size from
 *     coco    COCO instances JSON (streamed, yajl;   "images"[].width/height
 *             polygons skipped, core/json_skip.c)
 *     voc     folder of Pascal VOC XML (expat)       <size>, else image header
 *     yolo    folder of YOLO .txt label files        image header (JPEG/PNG)
 *     dlib    dlib imglab XML (expat)                <image width= height=>, else header
 *     csv     CSV/TSV manifest: path,count[,labels]  width/height columns, else header
 *
 * "Image header" means only the first bytes of the file are read (JPEG SOFn
 * marker, PNG IHDR chunk; core/ds_imghdr.c); images are never decoded here.
 *
 * Ground-truth count = number of boxes that are not marked "ignore" (dlib
 * ignore='1', COCO iscrowd=1, VOC <difficult>1); ignored boxes stay in the
 * record, flagged CQ_BOX_IGNORE, so nothing is lost. The CSV reader takes the
 * count from its column (it has no boxes).
 *
 * Bad input: a malformed file fails with "FILE:LINE:COLUMN: problem, expected
 * ..." in the cq_err. Boxes reaching outside their image are kept, flagged
 * CQ_BOX_OUTSIDE and counted in ds->boxes_outside. Missing image files are not
 * an error of the reader: cq_dataset_check_files() lists all of them.
 *
 *     cq_err err;
 *     cq_dataset *ds = cq_dataset_read("faces/training.xml", "dlib", NULL, &err);
 *     if (!ds) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *     for (int64_t i = 0; i < ds->n; i++)
 *         printf("%s %d\n", cq_dataset_path(ds, i), ds->count[i]);
 *     cq_dataset_free(ds);
 */
#ifndef CQ_DATASET_H
#define CQ_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "base/status.h"

/* Box flags. */
#define CQ_BOX_IGNORE 1u  /* marked ignore/crowd/difficult: not in the count */
#define CQ_BOX_OUTSIDE 2u /* reaches outside the image (kept, counted) */
#define CQ_BOX_LABEL_ONLY 4u /* an image-level class label without geometry (CSV) */

/* Limits against hostile files: beyond these a reader fails with CQ_ENOMEM. */
#define CQ_DS_MAX_IMAGES ((int64_t)1 << 31)
#define CQ_DS_MAX_BOXES ((int64_t)1 << 32)
#define CQ_DS_MAX_STRING 65536
#define CQ_DS_MAX_CATEGORIES (1 << 24)
/* An image side in pixels, or a ground-truth count, as an annotation file
 * states it. */
#define CQ_DS_MAX_SIDE (1 << 30)
#define CQ_DS_MAX_COUNT (1 << 30)
/* A YOLO class index (the first field of a labels file line). */
#define CQ_DS_MAX_CLASS (1 << 20)

/* The fields are read-only for users; change them through the functions. */
typedef struct cq_dataset {
    int64_t n;          /* images */
    int64_t *id;        /* id from the file (COCO id; else 1-based order) */
    size_t *path;       /* arena offset of the image path (as given, resolved against the annotation's folder) */
    int32_t *width;     /* pixels; 0 = unknown (image missing or unreadable) */
    int32_t *height;
    int32_t *count;     /* ground-truth count */
    int64_t *box_first; /* first box of each image */
    int32_t *box_n;     /* boxes of each image (ignored ones included) */

    int64_t nboxes;
    float *box;         /* 4 per box: x, y, w, h in pixels (top-left corner) */
    int32_t *box_label; /* category index 0..ncat-1, or -1 for none */
    uint8_t *box_flags; /* CQ_BOX_* */

    int32_t ncat;       /* categories (class labels) */
    size_t *cat_name;   /* arena offsets */
    int64_t *cat_id;    /* id from the file (COCO category id; else index + 1) */

    char *str;          /* string arena */
    size_t str_len;

    int64_t boxes_outside; /* boxes flagged CQ_BOX_OUTSIDE */
    int64_t boxes_ignored; /* boxes flagged CQ_BOX_IGNORE */
    int64_t boxes_dropped; /* annotations naming no known image (COCO) */

    /* growth bookkeeping (private) */
    int64_t cap_, box_cap_;
    int32_t cat_cap_;
    int last_auto_;
    size_t str_cap_;
    void *cat_index_;   /* name -> category hash (private) */
} cq_dataset;

/* Options for readers; NULL means all defaults. */
typedef struct cq_ds_opts {
    const char *image_root; /* resolve image paths against this folder instead of the default */
    int read_headers;       /* 1: read width/height from image headers where the file lacks them (default 1) */
} cq_ds_opts;

/* ---- life cycle ------------------------------------------------------- */

/* An empty dataset; NULL (ENOMEM) on failure. The caller frees it. */
cq_dataset *cq_dataset_new(cq_err *err);
/* Free everything; NULL is a no-op. */
void cq_dataset_free(cq_dataset *ds);

/* Read FILE (or folder, for voc and yolo) in FORMAT ("coco", "voc", "yolo",
 * "dlib", "csv"/"tsv"). Returns a new dataset or NULL with err filled. */
cq_dataset *cq_dataset_read(const char *path, const char *format, const cq_ds_opts *opts,
                            cq_err *err);

/* The readers themselves (same contract as cq_dataset_read). */
cq_dataset *cq_ds_read_coco(const char *path, const cq_ds_opts *opts, cq_err *err);
cq_dataset *cq_ds_read_voc(const char *dir, const cq_ds_opts *opts, cq_err *err);
cq_dataset *cq_ds_read_yolo(const char *dir, const cq_ds_opts *opts, cq_err *err);
cq_dataset *cq_ds_read_dlib(const char *path, const cq_ds_opts *opts, cq_err *err);
cq_dataset *cq_ds_read_csv(const char *path, const cq_ds_opts *opts, cq_err *err);
/* COCO from a memory buffer (name is used in messages only). */
cq_dataset *cq_ds_read_coco_mem(const char *buf, size_t len, const char *name, cq_err *err);

/* ---- building --------------------------------------------------------- */

/* Append an image; returns its index, or -1 (ENOMEM) on failure. The path is
 * copied. count < 0 means "the number of non-ignored boxes added to it". */
int64_t cq_dataset_add(cq_dataset *ds, const char *path, int64_t id, int32_t width,
                       int32_t height, int32_t count, cq_err *err);
/* Add a box to the LAST image added (boxes of an image are contiguous).
 * label: category index or -1. Flags CQ_BOX_IGNORE; CQ_BOX_OUTSIDE is set
 * here when the image size is known and the box leaves it. Returns CQ_OK or
 * ENOMEM. When the image was added with count < 0, the count follows. */
cq_status cq_dataset_add_box(cq_dataset *ds, float x, float y, float w, float h,
                             int32_t label, unsigned flags, cq_err *err);
/* Category index of NAME, adding it (with id, or index + 1 when id < 0) if new.
 * Returns -1 (ENOMEM) on failure. */
int32_t cq_dataset_category(cq_dataset *ds, const char *name, int64_t id, cq_err *err);
/* Append every record of src (paths, boxes, categories merged by name) to
 * dst. Returns CQ_OK, or ENOMEM/EINVAL (dst == src); on failure dst may hold
 * part of src. */
cq_status cq_dataset_append(cq_dataset *dst, const cq_dataset *src, cq_err *err);

/* ---- reading ---------------------------------------------------------- */

static inline const char *cq_dataset_path(const cq_dataset *ds, int64_t i)
{
    return ds->str + ds->path[i];
}
static inline const char *cq_dataset_cat_name(const cq_dataset *ds, int32_t c)
{
    return ds->str + ds->cat_name[c];
}

/* Histogram of ground-truth counts over idx[0..n-1] (idx NULL: every image):
 * hist[c] for c < nbins - 1, hist[nbins - 1] collects counts >= nbins - 1. */
void cq_dataset_histogram(const cq_dataset *ds, const int64_t *idx, int64_t n, int64_t *hist,
                          int nbins);

/* Indices of the images whose file does not exist or cannot be opened; all of
 * them, in order. *missing is malloc'ed (caller frees; NULL when none).
 * Returns the number found, or -1 (ENOMEM). */
int64_t cq_dataset_check_files(const cq_dataset *ds, int64_t **missing, cq_err *err);

/* ---- image headers ------------------------------------------------------ */

/* Width and height from a JPEG or PNG header (the file is not decoded).
 * Returns CQ_OK, CQ_EIO (cannot open), CQ_EFORMAT (not JPEG/PNG, truncated). */
cq_status cq_image_header_size(const char *path, int32_t *width, int32_t *height, cq_err *err);

#endif
