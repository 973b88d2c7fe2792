/* test_coco.c - the COCO reader's skipping of ignored values (core/data/json_skip.c
 * and the driver in core/data/ds_coco.c): the skipper on tricky input, results and
 * error messages identical to the reference path (every byte through yajl),
 * reads cut at every offset, malformed JSON inside a skipped span. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <yajl_parse.h>

#include "data/data_internal.h"

static int skip_of(const char *s, size_t *end)
{
    return cq__json_skip(s, strlen(s), end);
}

static void test_coco_skipper_valid(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "[]", "{}", "[[]]", "[[1.5, -2e3, 0, 3E+2, -0.0e-1]]", "[true, false, null]",
        "{\"counts\": \"a]}\\\"[{\", \"size\": [1, 2]}",
        "[\"\\\\\", \"\\\"]\", \"\\/\\b\\f\\n\\r\\t\\u00e9\\uABcd\"]",
        "{\"segmentation\": {\"segmentation\": [[]]}, \"x\": [{}, [], \"}\"]}",
        "[1]", "[\n\t1 ,\r\n 2 ]", "{ \"a\" : [ ] , \"b\":{}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        size_t n = strlen(ok[i]), end = 0;
        if (skip_of(ok[i], &end) != CQ__JSKIP_DONE || end != n)
            fail_msg("not skipped whole: %s", ok[i]);
        /* every proper prefix may still become valid: MORE */
        for (size_t k = 1; k < n; k++)
            if (cq__json_skip(ok[i], k, &end) != CQ__JSKIP_MORE)
                fail_msg("prefix %zu of %s: expected MORE", k, ok[i]);
    }
    size_t end = 0;
    /* only the first value counts; what follows is the caller's */
    assert_int_equal(skip_of("[1]]", &end), CQ__JSKIP_DONE);
    assert_int_equal(end, 3);
    assert_int_equal(skip_of("{\"a\":1},{", &end), CQ__JSKIP_DONE);
    assert_int_equal(end, 7);
    /* 64 levels are checked here, 65 are left to yajl */
    char deep[140];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    assert_int_equal(skip_of(deep, &end), CQ__JSKIP_DONE);
    assert_int_equal(end, 128);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    assert_int_equal(skip_of(deep, &end), CQ__JSKIP_UNSURE);
}

static void test_coco_skipper_unsure(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[1,]", "[,1]", "[01]", "[1 2]", "[-]", "[1.]", "[.5]", "[1e]", "[1e+]", "[+1]", "[1}",
        "{1: 2}", "{\"a\" 1}", "{\"a\": 1,}", "{\"a\"}", "[tru]", "[nul ]", "[True]", "[\"\\x\"]",
        "[\"\\u12G4\"]", "[\"a\x01\"]", "[\"\x7f\"]", "[\"\xc3\xa9\"]", "[1,\f2]", "1]", "",
        "[\"a\"\"b\"]", "{\"a\":1 \"b\":2}", "x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t end = 12345;
        if (skip_of(bad[i], &end) != CQ__JSKIP_UNSURE)
            fail_msg("expected UNSURE: '%s'", bad[i]);
        assert_int_equal(end, 12345);
    }
}

/* Does yajl (no callbacks) accept s[0..n) as a whole document? */
static int yajl_accepts(const char *s, size_t n)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    int ok = yajl_parse(h, (const unsigned char *)s, n) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    return ok;
}

/* Arrays of numbers, long enough for the 16-byte path (a third written
 * "1, 2" as Python does, which leaves it), with random damage from the bytes
 * numbers are made of: the skipper says DONE exactly when yajl accepts
 * (nothing here is outside what it checks itself). */
static void test_coco_skipper_numbers_like_yajl(void **state)
{
    (void)state;
    static const char alpha[] = "0123456789.,-eE+0000,,.. ";
    char buf[400];
    uint64_t x = 77;
    int done = 0, unsure = 0;
    for (int trial = 0; trial < 200000; trial++) {
        size_t n = 0;
        buf[n++] = '[';
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int count = 1 + (int)((x >> 33) % 40);
        for (int k = 0; k < count; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s%u%s%u", k ? trial % 3 ? "," : ", " : "",
                                  (x >> 20) % 9 == 0 ? "-" : "", (unsigned)(x >> 33) % ((x >> 24) % 3 ? 1000u : 10u),
                                  (x >> 28) % 4 ? "." : "", (unsigned)(x >> 40) % 100);
        }
        buf[n++] = ']';
        buf[n] = '\0';
        int damage = (int)((x >> 50) % 4); /* 0: left valid */
        for (int k = 0; k < damage; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[1 + (x >> 33) % (n - 2)] = alpha[(x >> 17) % (sizeof alpha - 1)];
        }
        size_t end = 0;
        int r = cq__json_skip(buf, n, &end), ok = yajl_accepts(buf, n);
        if (ok != (r == CQ__JSKIP_DONE && end == n))
            fail_msg("skipper %d (end %zu of %zu), yajl %d: %s", r, end, n, ok, buf);
        done += r == CQ__JSKIP_DONE;
        unsure += r == CQ__JSKIP_UNSURE;
    }
    assert_true(done > 50000 && unsure > 50000); /* both sides were exercised */
}

/* ---- the reader: skip path against the reference path ------------------ */

static const char tricky[] =
    "{\"info\": {\"segmentation\": [[1, 2]], \"x\": \"]}\\\"segmentation\\\": [\",\n"
    "          \"segmentation\" : {\"a\": [{}]}, \"n\": [\"segmentation\"]},\n"
    " \"licenses\": [{\"segmentation\": \"a string value\"}],\n"
    " \"images\": [{\"id\": 1, \"file_name\": \"br[ack]{et}\\\"s\\\\.jpg\", \"segmentation\": [[0]],\n"
    "              \"width\": 100, \"height\": 80},\n"
    "             {\"file_name\": \"segmentation\", \"id\": 2, \"coco_url\": \"\\\"segmentation\\\": [1,2]\"}],\n"
    " \"annotations\": [\n"
    "  {\"segmentation\"\n     :\n   [[10.5, 20, 30e1, -4.25E-1], []], \"area\": 12.5, \"iscrowd\": 0,\n"
    "   \"image_id\": 1, \"bbox\": [1, 2, 3, 4], \"category_id\": 7, \"id\": 1},\n"
    "  {\"segmentation\": {\"counts\": \"a\\\\]b\\\"[c\\u00e9\", \"size\": [80, 100]}, \"iscrowd\": 1,\n"
    "   \"image_id\": 2, \"bbox\": [5, 6, 7, 8], \"category_id\": 9, \"id\": 2},\n"
    "  {\"segmentation\": {\"counts\": [0, 5, 3, 2], \"size\": [80, 100], \"segmentation\": [[1]]},\n"
    "   \"iscrowd\": true, \"image_id\": 1, \"bbox\": [0.5, 0.25, 1e1, 2], \"category_id\": 9, \"id\": 3},\n"
    "  {\"image_id\": 2, \"segmentation\": null, \"bbox\": [9, 9, 9, 9], \"segmentation\": 5,\n"
    "   \"category_id\": 7, \"x\\\"segmentation\": [[1, {\"]\": \"[\"}]], \"id\": 4},\n"
    "  {\"image_id\": 2, \"bbox\": [1, 1, 1, 1], \"category_id\": 7, \"id\": 5,\n"
    "   \"segmentation\": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]}],\n"
    " \"categories\": [{\"id\": 7, \"name\": \"segmentation\"},\n"
    "                {\"id\": 9, \"name\": \"[\\\"segmentation\\\"]\", \"segmentation\": [[]]}]}\n";

/* Everything a reader fills, compared field by field. */
static void same_dataset(const cq_dataset *a, const cq_dataset *b, const char *what)
{
    if (a->n != b->n || a->nboxes != b->nboxes || a->ncat != b->ncat ||
        a->boxes_outside != b->boxes_outside || a->boxes_ignored != b->boxes_ignored ||
        a->boxes_dropped != b->boxes_dropped)
        fail_msg("%s: counts differ", what);
    for (int64_t i = 0; i < a->n; i++)
        if (a->id[i] != b->id[i] || a->width[i] != b->width[i] || a->height[i] != b->height[i] ||
            a->count[i] != b->count[i] || a->box_first[i] != b->box_first[i] ||
            a->box_n[i] != b->box_n[i] || strcmp(cq_dataset_path(a, i), cq_dataset_path(b, i)))
            fail_msg("%s: image %lld differs", what, (long long)i);
    if (a->nboxes && (memcmp(a->box, b->box, (size_t)a->nboxes * 4 * sizeof *a->box) ||
                      memcmp(a->box_label, b->box_label, (size_t)a->nboxes * sizeof *a->box_label) ||
                      memcmp(a->box_flags, b->box_flags, (size_t)a->nboxes)))
        fail_msg("%s: boxes differ", what);
    for (int32_t c = 0; c < a->ncat; c++)
        if (a->cat_id[c] != b->cat_id[c] || strcmp(cq_dataset_cat_name(a, c), cq_dataset_cat_name(b, c)))
            fail_msg("%s: category %d differs", what, c);
}

/* Read doc both ways (reference: no skipping, the same reads) and check the
 * same dataset or the same error message comes out. Returns the bytes
 * skipped. (The same reads: yajl itself places an error in a token cut by a
 * read at the start of the next read, skipping or not.) */
static uint64_t same_as_reference(const char *doc, size_t len, size_t rd, size_t cap)
{
    cq__coco_knobs ref = {0}, k = {0};
    ref.noskip = 1;
    k.read = ref.read = rd;
    k.cap = ref.cap = cap;
    cq_err e1, e2;
    cq_dataset *a = cq__coco_read(NULL, doc, len, "t.json", NULL, &ref, &e1);
    cq_dataset *b = cq__coco_read(NULL, doc, len, "t.json", NULL, &k, &e2);
    char what[64];
    snprintf(what, sizeof what, "read %zu cap %zu", rd, cap);
    if (!a || !b) {
        if (a || b)
            fail_msg("%s: only one path failed: %s", what, a ? e2.msg : e1.msg);
        if (strcmp(e1.msg, e2.msg))
            fail_msg("%s: messages differ:\n  %s\n  %s", what, e1.msg, e2.msg);
    } else {
        same_dataset(a, b, what);
    }
    cq_dataset_free(a);
    cq_dataset_free(b);
    return k.skipped;
}

static void test_coco_tricky_document(void **state)
{
    (void)state;
    size_t n = sizeof tricky - 1;
    cq__coco_knobs k = {0};
    cq_err err;
    cq_dataset *ds = cq__coco_read(NULL, tricky, n, "t.json", NULL, &k, &err);
    if (!ds)
        fail_msg("%s", err.msg);
    assert_int_equal(ds->n, 2);
    assert_string_equal(cq_dataset_path(ds, 0), "br[ack]{et}\"s\\.jpg");
    assert_string_equal(cq_dataset_path(ds, 1), "segmentation");
    assert_int_equal(ds->nboxes, 5);
    assert_int_equal(ds->boxes_ignored, 2); /* iscrowd 1 and iscrowd true */
    assert_int_equal(ds->ncat, 2);
    assert_string_equal(cq_dataset_cat_name(ds, 0), "segmentation");
    assert_string_equal(cq_dataset_cat_name(ds, 1), "[\"segmentation\"]");
    int64_t b = ds->box_first[0];
    assert_true(ds->box[4 * b] == 1.0f && ds->box[4 * (b + 1)] == 0.5f);
    cq_dataset_free(ds);
    /* the containers under a "segmentation" key: 9 of them, every byte */
    static const char *const spans[] = {
        "[[1, 2]]", "{\"a\": [{}]}", "[[0]]", "[[10.5, 20, 30e1, -4.25E-1], []]",
        "{\"counts\": \"a\\\\]b\\\"[c\\u00e9\", \"size\": [80, 100]}",
        "{\"counts\": [0, 5, 3, 2], \"size\": [80, 100], \"segmentation\": [[1]]}",
        "[[1, {\"]\": \"[\"}]]", "[[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]", "[[]]",
    };
    uint64_t want = 0;
    for (size_t i = 0; i < sizeof spans / sizeof *spans; i++)
        want += strlen(spans[i]);
    assert_int_equal(k.skipped, want);
    assert_int_equal(same_as_reference(tricky, n, 0, 0), want);
}

/* Reads of rd bytes cut keys, strings and escapes at every offset; a large
 * buffer keeps the cut candidate, so everything is still skipped. A buffer
 * as small as the read leaves long values to yajl: same result. */
static void test_coco_cut_at_every_offset(void **state)
{
    (void)state;
    size_t n = sizeof tricky - 1;
    uint64_t all = same_as_reference(tricky, n, 0, 0);
    for (size_t rd = 1; rd <= n + 1; rd++) {
        assert_int_equal(same_as_reference(tricky, n, rd, 4096), all);
        same_as_reference(tricky, n, rd, rd);
    }
    /* a truncated file, cut everywhere: the same "ends too early" or error */
    for (size_t len = 0; len < n; len++)
        for (size_t rd = 1; rd < 40; rd += 13)
            same_as_reference(tricky, len, rd, rd * 3);
}

/* Malformed JSON inside a skipped span: yajl reads that span and reports it
 * as before, at the same line and column. */
static void test_coco_error_inside_skipped_span(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *msg;
    } cases[] = {
        {"{\"annotations\": [{\"segmentation\": [[1, 2,\n   3 4]], \"image_id\": 1}]}",
         "e.json:2:7: JSON parse error: after array element, I expect ',' or ']'"},
        {"{\"annotations\": [{\"segmentation\": [[1, 2],\n  [3, 01]], \"image_id\": 1}]}",
         "e.json:2:9: JSON parse error: after array element, I expect ',' or ']'"},
        {"{\"annotations\": [{\"segmentation\": {\"counts\": \"ab\\q\"}}]}",
         "e.json:1:50: JSON lexical error: inside a string, '\\' occurs before a character which it may not."},
        {"{\"annotations\": [{\"segmentation\": [[1, 2]}]}",
         "e.json:1:43: JSON parse error: after array element, I expect ',' or ']'"},
        {"{\"info\": {\"segmentation\": [[1,\n2]], \"x\": [1,, 2]}}",
         "e.json:2:15: JSON parse error: unallowed token at this point in JSON text"},
        /* errors after skipped spans on several lines keep their place */
        {"{\"annotations\": [{\"segmentation\": [[1,\n2,\n3]], \"image_id\": 1,\n \"bbox\": [1, 2, 3]}]}",
         "e.json:4:20: annotation object ends without a 4-number \"bbox\": expected [x, y, width, height]"},
        {"{\"annotations\": [{\"segmentation\": [[1,\n2]], \"image_id\": \"1\"}]}",
         "e.json:2:21: expected a number, found a string"},
        {"{\"annotations\": [{\"segmentation\": [[1,\n2]], \"image_id\": 1, \"bbox\": [1, 2, 3, 4]},\n"
         " {\"segmentation\": [[3]]",
         "e.json:3:24: JSON ends too early: expected the rest of the document"},
        {"{\"annotations\": [{\"segmentation\": [[1,\n2",
         "e.json:2:2: JSON ends too early: expected the rest of the document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cq_err err;
        size_t n = strlen(cases[i].doc);
        cq_dataset *ds = cq__coco_read(NULL, cases[i].doc, n, "e.json", NULL, NULL, &err);
        assert_null(ds);
        assert_string_equal(err.msg, cases[i].msg);
        same_as_reference(cases[i].doc, n, 0, 0);
        for (size_t rd = 1; rd < 20; rd++)
            same_as_reference(cases[i].doc, n, rd, 64);
    }
}

/* Byte flips and truncations of the tricky document: whatever yajl makes of
 * them, the skip path makes the same (dataset or message, byte for byte). */
static void test_coco_mutations_same_as_reference(void **state)
{
    (void)state;
    size_t n = sizeof tricky - 1;
    char *buf = malloc(n);
    static const char junk[] = "{}[],:\"0-.eE+ \\\nu\x01\x7f\xff";
    uint64_t x = 2024;
    for (int trial = 0; trial < 4000; trial++) {
        memcpy(buf, tricky, n);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = trial % 5 == 0 ? (size_t)(x >> 33) % n : n;
        for (int k = 0; k < 1 + trial % 3; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[(x >> 33) % n] = junk[(x >> 17) % (sizeof junk - 1)];
        }
        same_as_reference(buf, len, 0, 0);
        same_as_reference(buf, len, 1 + trial % 61, 200);
    }
    free(buf);
}

/* ---- generated files ------------------------------------------------------ */

static uint64_t rs;
static uint32_t rnd(uint32_t n)
{
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rs >> 33) % n;
}

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = b->cap * 2 + (size_t)k;
        b->p = realloc(b->p, b->cap);
    }
}

static const char *ws(void)
{
    static const char *const w[] = {"", "", " ", "\n", "\n  ", "\t", "\r\n"};
    return w[rnd(7)];
}

/* A COCO file with random sections order, white space, polygons, RLE
 * (counts as numbers or a string) and unknown keys. */
static void gen(sbuf *b, int nimg, int nann)
{
    b->n = 0;
    put(b, "{");
    int order = (int)rnd(6), first = 1;
    for (int s = 0; s < 4; s++) {
        int sec = s == 3 ? 3 : (s + order) % 3; /* info last, sections rotated */
        put(b, "%s%s", first ? "" : ",", ws());
        first = 0;
        if (sec == 0) {
            put(b, "\"images\"%s:%s[", ws(), ws());
            for (int i = 0; i < nimg; i++)
                put(b, "%s{\"file_name\": \"%06d.jpg\",%s\"segmentation\": [[%d]], \"height\": %u,"
                       " \"width\": 640, \"id\": %d}", i ? ", " : "", i, ws(), i, 200 + rnd(400), i + 1);
            put(b, "]");
        } else if (sec == 1) {
            put(b, "\"annotations\": [");
            for (int a = 0; a < nann; a++) {
                put(b, "%s{%s\"segmentation\"%s:%s", a ? "," : "", ws(), ws(), ws());
                int crowd = rnd(5) == 0, form = (int)rnd(3);
                if (crowd && form == 0) {
                    put(b, "{\"counts\": \"%c\\\\%c\\\"]\", \"size\": [%u, 640]}", 'a' + rnd(26),
                        '0' + rnd(10), 200 + rnd(400));
                } else if (crowd) {
                    put(b, "{\"counts\": [");
                    for (int k = 0, m = 1 + (int)rnd(20); k < m; k++)
                        put(b, "%s%u", k ? "," : "", rnd(3000));
                    put(b, "], \"size\": [427, 640]}");
                } else {
                    put(b, "[");
                    for (int poly = 0, np = 1 + (int)rnd(2); poly < np; poly++) {
                        put(b, "%s[", poly ? ", " : "");
                        for (int k = 0, m = 3 + (int)rnd(20); k < m; k++)
                            put(b, "%s%s%u.%02u,%s%u", k ? "," : "", ws(), rnd(640), rnd(100), ws(),
                                rnd(480));
                        put(b, "]");
                    }
                    put(b, "]");
                }
                put(b, ", \"area\": %u.5, \"iscrowd\": %d, \"image_id\": %u,%s\"bbox\": [%u.25, %u, %u, %u.5],"
                       " \"category_id\": %u, \"id\": %d, \"extra\": {\"k\": [%s]}}",
                    rnd(9999), crowd, 1 + rnd((uint32_t)nimg + 2), ws(), rnd(600), rnd(400), 1 + rnd(99),
                    1 + rnd(99), 1 + rnd(12), a + 1, rnd(2) ? "\"}\"" : "");
            }
            put(b, "]");
        } else if (sec == 2) {
            put(b, "\"categories\": [");
            for (int c = 0; c < 12; c++)
                put(b, "%s{\"id\": %d, \"name\": \"c%d\", \"segmentation\": \"%s\"}", c ? ", " : "", c + 1,
                    c, c % 2 ? "x" : "[");
            put(b, "]");
        } else {
            put(b, "\"info\": {\"segmentation\": {\"a\": [1, \"]\", {\"b\": null}]}}");
        }
    }
    put(b, "}\n");
}

static void test_coco_generated_same_as_reference(void **state)
{
    (void)state;
    sbuf b = {malloc(1024), 0, 1024};
    rs = 99;
    for (int t = 0; t < 40; t++) {
        gen(&b, 1 + (int)rnd(30), (int)rnd(200));
        cq__coco_knobs k = {0};
        cq_err err;
        cq_dataset *ds = cq__coco_read(NULL, b.p, b.n, "g.json", NULL, &k, &err);
        if (!ds)
            fail_msg("%s", err.msg);
        cq_dataset_free(ds);
        assert_true(k.skipped > 0);
        assert_int_equal(same_as_reference(b.p, b.n, 0, 0), k.skipped);
        same_as_reference(b.p, b.n, 1 + rnd(300), 512);
        same_as_reference(b.p, b.n, 64, 64);
    }
    free(b.p);
}

/* A file of several MiB read with the default knobs (1 MiB reads): values
 * cut by the reads wait for the next one; the same dataset as the reference. */
static void test_coco_file_default_reads(void **state)
{
    (void)state;
    sbuf b = {malloc(1024), 0, 1024};
    rs = 7;
    gen(&b, 3000, 16000);
    assert_true(b.n > 3u << 20);
    char path[] = "/tmp/calq_test_coco_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.p, 1, b.n, f), b.n);
    fclose(f);
    cq__coco_knobs ref = {0}, k = {0};
    ref.noskip = 1;
    cq_err e1, e2;
    cq_dataset *a = cq__coco_read(path, NULL, 0, NULL, NULL, &ref, &e1);
    cq_dataset *d = cq__coco_read(path, NULL, 0, NULL, NULL, &k, &e2);
    remove(path);
    if (!a || !d)
        fail_msg("%s", !a ? e1.msg : e2.msg);
    same_dataset(a, d, "file");
    assert_int_equal(d->nboxes + d->boxes_dropped, 16000);
    /* every "segmentation" value of annotations and images is an array or
     * object; all of them but the few cut by a read are skipped */
    assert_true(k.skipped > b.n / 2);
    cq_dataset_free(a);
    cq_dataset_free(d);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coco_skipper_valid),
        cmocka_unit_test(test_coco_skipper_unsure),
        cmocka_unit_test(test_coco_skipper_numbers_like_yajl),
        cmocka_unit_test(test_coco_tricky_document),
        cmocka_unit_test(test_coco_cut_at_every_offset),
        cmocka_unit_test(test_coco_error_inside_skipped_span),
        cmocka_unit_test(test_coco_mutations_same_as_reference),
        cmocka_unit_test(test_coco_generated_same_as_reference),
        cmocka_unit_test(test_coco_file_default_reads),
    };
    return cmocka_run_group_tests_name("coco", tests, NULL, NULL);
}
