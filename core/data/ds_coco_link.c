/* ds_coco_link.c - the second half of the COCO reader: annotations are linked
 * to images by id (open addressing hash), grouped per image with a counting
 * sort, and added to the dataset with images in the order of "images".
 * Annotations naming an unknown image are dropped and counted
 * (ds->boxes_dropped); a repeated image id is an error. */
#include "data/data_internal.h"

#include <stdlib.h>

/* Open addressing, key and value side by side: one cache miss per lookup
 * (860k annotations look their image up in random order). */
typedef struct {
    int64_t key, val; /* val < 0: empty */
} idslot;

typedef struct {
    idslot *slot;
    uint64_t mask;
} idmap;

static uint64_t mix(int64_t k)
{
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 29);
}

static int idmap_init(idmap *m, int64_t n)
{
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2)
        cap *= 2;
    m->mask = cap - 1;
    m->slot = malloc(cap * sizeof *m->slot);
    if (!m->slot)
        return -1;
    for (uint64_t i = 0; i < cap; i++)
        m->slot[i].val = -1;
    return 0;
}

/* Insert k -> v; returns the value already there, or -1. */
static int64_t idmap_put(idmap *m, int64_t k, int64_t v)
{
    uint64_t i = mix(k) & m->mask;
    while (m->slot[i].val >= 0) {
        if (m->slot[i].key == k)
            return m->slot[i].val;
        i = (i + 1) & m->mask;
    }
    m->slot[i].key = k;
    m->slot[i].val = v;
    return -1;
}

static int64_t idmap_get(const idmap *m, int64_t k)
{
    uint64_t i = mix(k) & m->mask;
    while (m->slot[i].val >= 0) {
        if (m->slot[i].key == k)
            return m->slot[i].val;
        i = (i + 1) & m->mask;
    }
    return -1;
}

cq_status cq__coco_link(const cq__coco_recs *c, cq_dataset *ds, const char *dir, const char *name,
                        cq_err *err)
{
    idmap im = {0}, cm = {0};
    int64_t *start = NULL, *order = NULL, *owner = NULL;
    cq_status st = CQ_OK;
    if (idmap_init(&im, c->nimg) || idmap_init(&cm, c->ncat) ||
        !(start = calloc((size_t)c->nimg + 1, sizeof *start)) ||
        !(order = malloc((size_t)(c->nann ? c->nann : 1) * sizeof *order)) ||
        !(owner = malloc((size_t)(c->nann ? c->nann : 1) * sizeof *owner))) {
        st = cq_errf(err, CQ_ENOMEM, "%s: out of memory linking annotations", name);
        goto done;
    }
    for (int64_t i = 0; i < c->nimg; i++) {
        int64_t prev = idmap_put(&im, c->img[i].id, i);
        if (prev >= 0) {
            st = cq_errf(err, CQ_EFORMAT, "%s: image id %lld appears twice (images %lld and %lld)",
                         name, (long long)c->img[i].id, (long long)prev + 1, (long long)i + 1);
            goto done;
        }
    }
    for (int64_t k = 0; k < c->ncat; k++) {
        int32_t ci = cq_dataset_category(ds, ds->str + c->cat[k].name, c->cat[k].id, err);
        if (ci < 0) {
            st = err->code;
            goto done;
        }
        idmap_put(&cm, c->cat[k].id, ci);
    }
    for (int64_t a = 0; a < c->nann; a++) {
        owner[a] = idmap_get(&im, c->ann[a].image_id);
        if (owner[a] < 0)
            ds->boxes_dropped++;
        else
            start[owner[a] + 1]++;
    }
    for (int64_t i = 0; i < c->nimg; i++)
        start[i + 1] += start[i];
    for (int64_t a = 0; a < c->nann; a++)
        if (owner[a] >= 0)
            order[start[owner[a]]++] = a;
    for (int64_t i = c->nimg; i > 0; i--)
        start[i] = start[i - 1];
    start[0] = 0;
    for (int64_t i = 0; i < c->nimg && !st; i++) {
        char *path = cq__path_join(dir, ds->str + c->img[i].name);
        if (!path) {
            st = cq_errf(err, CQ_ENOMEM, "%s: out of memory", name);
            break;
        }
        int64_t r = cq_dataset_add(ds, path, c->img[i].id, c->img[i].w, c->img[i].h, -1, err);
        free(path);
        if (r < 0) {
            st = err->code;
            break;
        }
        for (int64_t k = start[i]; k < start[i + 1] && !st; k++) {
            const cq__coco_ann *a = &c->ann[order[k]];
            int64_t label = a->cat_id == INT64_MIN ? -1 : idmap_get(&cm, a->cat_id);
            st = cq_dataset_add_box(ds, a->bbox[0], a->bbox[1], a->bbox[2], a->bbox[3],
                                    (int32_t)label, a->crowd ? CQ_BOX_IGNORE : 0, err);
        }
    }
done:
    free(im.slot);
    free(cm.slot);
    free(start);
    free(order);
    free(owner);
    return st;
}
