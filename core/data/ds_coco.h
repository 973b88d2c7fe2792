/* ds_coco.h - internal to the COCO reader (ds_coco.c parses, ds_coco_link.c
 * links): the records kept while the file streams by. */
#ifndef CQ_DS_COCO_H
#define CQ_DS_COCO_H

#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"

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

#endif
