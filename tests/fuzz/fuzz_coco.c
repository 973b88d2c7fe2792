/* fuzz_coco: the COCO JSON reader (ds_coco.c, json_skip.c, ds_coco_link.c)
 * from memory, three ways: the default reader; the reference path with every
 * byte through yajl's callbacks; and the streaming reader with 7-byte reads
 * into a 64-byte buffer from a file. The three must agree: the same code and
 * message on failure (skipping never changes what is accepted nor an error's
 * text, data_internal.h), the same images, boxes and categories on success. */
#include "fuzz_data.h"
#include "data/data_internal.h"

static void same(const cq_dataset *a, const cq_err *ea, const cq_dataset *b, const cq_err *eb,
                 const char *what)
{
    if (!a != !b) {
        fprintf(stderr, "%s: one read failed (%s), the other did not\n", what,
                a ? eb->msg : ea->msg);
        abort();
    }
    if (!a) {
        if (ea->code != eb->code || strcmp(ea->msg, eb->msg) != 0) {
            fprintf(stderr, "%s: errors differ:\n  %s\n  %s\n", what, ea->msg, eb->msg);
            abort();
        }
        return;
    }
    if (a->n != b->n || a->nboxes != b->nboxes || a->ncat != b->ncat
        || a->boxes_dropped != b->boxes_dropped
        || (a->nboxes && memcmp(a->box, b->box, (size_t)a->nboxes * 4 * sizeof(float)) != 0)) {
        fprintf(stderr, "%s: datasets differ\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_err e1, e2, e3;
    cq_dataset *a = cq_ds_read_coco_mem((const char *)data, size, "fuzz.json", &e1);
    if (!a) fuzz_check_err(&e1, "cq_ds_read_coco_mem");
    else fuzz_check_dataset(a);
    cq__coco_knobs ref = {.noskip = 1};
    cq_dataset *b = cq__coco_read(NULL, (const char *)data, size, "fuzz.json", NULL, &ref, &e2);
    same(a, &e1, b, &e2, "skipping vs every byte through yajl");
    const char *path = fuzz_file("fuzz.json", data, size);
    cq__coco_knobs small = {.read = 7, .cap = 64};
    cq_ds_opts opts = {.image_root = NULL, .read_headers = 0};
    cq_dataset *c = cq__coco_read(path, NULL, 0, NULL, &opts, &small, &e3);
    if (!c) {
        /* the file's messages name the path, not "fuzz.json" */
        fuzz_check_err(&e3, "cq__coco_read (file)");
        if (a) {
            fprintf(stderr, "7-byte reads failed where memory did not: %s\n", e3.msg);
            abort();
        }
    } else {
        same(a, &e1, c, &e3, "memory vs 7-byte reads");
    }
    cq_dataset_free(a);
    cq_dataset_free(b);
    cq_dataset_free(c);
    return 0;
}
