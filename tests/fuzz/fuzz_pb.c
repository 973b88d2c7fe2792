/* fuzz_pb: the protobuf layer (pb.c) alone, schema-free: every field of
 * every message, each LEN field also walked as a nested message (16 deep at
 * most), each field read through every typed accessor whatever its wire
 * type (those must refuse a wrong one with an error, not misread), and the
 * bytes written back through the writer must read back the same fields. */
#include "fuzz_util.h"
#include "onnx/pb.h"

static void pb_walk(cq_pb *r, int depth, cq_pb_buf *w)
{
    cq_pb_field f;
    int more;
    while ((more = cq_pb_next(r, &f)) > 0) {
        if (f.end > r->end || f.offset >= f.end) {
            fprintf(stderr, "field at %zu ends at %zu, message ends at %zu\n", f.offset, f.end,
                    r->end);
            abort();
        }
        int64_t i64;
        float fl;
        if (cq_pb_int64(r, &f, &i64) != CQ_OK) fuzz_check_err(r->err, "cq_pb_int64");
        if (cq_pb_float(r, &f, &fl) != CQ_OK) fuzz_check_err(r->err, "cq_pb_float");
        char *s = cq_pb_strdup(r, &f);
        if (!s) fuzz_check_err(r->err, "cq_pb_strdup");
        else if (strlen(s) > f.len) abort();
        free(s);
        int64_t *ia = NULL, in = 0, icap = 0;
        if (cq_pb_append_int64(r, &f, &ia, &in, &icap) != CQ_OK)
            fuzz_check_err(r->err, "cq_pb_append_int64");
        float *fa = NULL;
        int64_t fn = 0, fcap = 0;
        if (cq_pb_append_float(r, &f, &fa, &fn, &fcap) != CQ_OK)
            fuzz_check_err(r->err, "cq_pb_append_float");
        /* growth follows the bytes read: never more than one value a byte */
        if (in > (int64_t)f.end - (int64_t)f.offset || fn > (int64_t)f.end - (int64_t)f.offset)
            abort();
        free(ia);
        free(fa);
        switch (f.wire) {
        case CQ_PB_VARINT: cq_pb_put_tag(w, f.num, CQ_PB_VARINT); cq_pb_put_varint(w, f.u); break;
        case CQ_PB_I32: cq_pb_put_tag(w, f.num, CQ_PB_I32); {
                uint32_t v = (uint32_t)f.u;
                cq_pb_put_raw(w, &v, 4);
            } break;
        case CQ_PB_I64: cq_pb_put_tag(w, f.num, CQ_PB_I64); cq_pb_put_raw(w, &f.u, 8); break;
        case CQ_PB_LEN: cq_pb_put_bytes(w, f.num, f.data, f.len); break;
        default: abort();
        }
        if (f.wire == CQ_PB_LEN && depth < 16) {
            cq_pb sub;
            cq_pb_sub(r, &f, "Sub", NULL, &sub);
            cq_pb_buf ignored = {0};
            pb_walk(&sub, depth + 1, &ignored);
            free(ignored.data);
        }
    }
    if (more < 0) fuzz_check_err(r->err, "cq_pb_next");
}

/* the fields of buf, as (num, wire, value) tuples written into out */
static int pb_fields(const uint8_t *buf, size_t len, cq_pb_buf *out)
{
    cq_err err;
    cq_pb r;
    cq_pb_init(&r, buf, len, "fuzz.pb", "Top", NULL, &err);
    cq_pb_field f;
    int more;
    while ((more = cq_pb_next(&r, &f)) > 0) {
        cq_pb_put_varint(out, f.num);
        cq_pb_put_varint(out, (uint64_t)f.wire);
        if (f.wire == CQ_PB_LEN) cq_pb_put_bytes(out, 1, f.data, f.len);
        else cq_pb_put_varint(out, f.u);
    }
    return more;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_err err;
    cq_pb r;
    static const cq_pb_name names[] = {{1, "first"}, {7, "graph"}, {0, NULL}};
    cq_pb_init(&r, data, size, "fuzz.pb", "Top", names, &err);
    cq_pb_buf w = {0};
    pb_walk(&r, 0, &w);
    if (w.failed) abort();
    /* when the whole buffer parsed, its re-encoding holds the same fields */
    cq_pb_buf a = {0}, b = {0};
    if (pb_fields(data, size, &a) == 0) {
        if (pb_fields(w.data, w.len, &b) != 0 || a.len != b.len
            || (a.len && memcmp(a.data, b.data, a.len) != 0)) {
            fprintf(stderr, "re-encoded fields differ\n");
            abort();
        }
    }
    free(a.data);
    free(b.data);
    free(w.data);
    return 0;
}
