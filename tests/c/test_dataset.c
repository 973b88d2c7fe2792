/* test_dataset.c - the readers (dlib, COCO, VOC, YOLO, CSV), image headers,
 * bad input (file:line:column messages), missing files, boxes outside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

#include "data/dataset.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/calq_test_dataset_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* tmpdir/rel, written with text (folders made as needed); returns the path (static). */
static const char *put(const char *rel, const char *text, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    for (char *p = path + strlen(tmpdir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}
#define PUT(rel, s) put(rel, s, strlen(s))

static const char *cache_dir(void)
{
    const char *c = getenv("CALQ_CACHE");
    return c && *c ? c : ".cache";
}

static const char *in_tmp(const char *rel)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    return path;
}

/* A minimal JPEG header: SOI, an APP1 segment, SOF0 with the size. */
static size_t fake_jpeg(unsigned char *b, int w, int h)
{
    size_t n = 0;
    b[n++] = 0xFF, b[n++] = 0xD8;
    b[n++] = 0xFF, b[n++] = 0xE1, b[n++] = 0, b[n++] = 6;
    memcpy(b + n, "Exif", 4), n += 4;
    b[n++] = 0xFF, b[n++] = 0xC0, b[n++] = 0, b[n++] = 11, b[n++] = 8;
    b[n++] = (unsigned char)(h >> 8), b[n++] = (unsigned char)h;
    b[n++] = (unsigned char)(w >> 8), b[n++] = (unsigned char)w;
    b[n++] = 1, b[n++] = 1, b[n++] = 0x11, b[n++] = 0;
    return n;
}

static size_t fake_png(unsigned char *b, int w, int h)
{
    memcpy(b, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
    for (int i = 0; i < 4; i++) {
        b[16 + i] = (unsigned char)(w >> (24 - 8 * i));
        b[20 + i] = (unsigned char)(h >> (24 - 8 * i));
    }
    return 24;
}

static void test_dataset_imghdr(void **state)
{
    (void)state;
    unsigned char b[64];
    int32_t w = 0, h = 0;
    cq_err err;
    const char *p = put("h/a.jpg", (const char *)b, fake_jpeg(b, 640, 427));
    assert_int_equal(cq_image_header_size(p, &w, &h, &err), CQ_OK);
    assert_int_equal(w, 640);
    assert_int_equal(h, 427);
    p = put("h/b.png", (const char *)b, fake_png(b, 33, 70000));
    assert_int_equal(cq_image_header_size(p, &w, &h, &err), CQ_OK);
    assert_int_equal(w, 33);
    assert_int_equal(h, 70000);
    fake_jpeg(b, 640, 427);
    p = put("h/c.jpg", (const char *)b, 8); /* cut inside APP1 */
    assert_int_equal(cq_image_header_size(p, &w, &h, &err), CQ_EFORMAT);
    assert_non_null(strstr(err.msg, "JPEG truncated before the frame header"));
    p = PUT("h/d.gif", "GIF89a....");
    assert_int_equal(cq_image_header_size(p, &w, &h, &err), CQ_EFORMAT);
    assert_non_null(strstr(err.msg, "neither JPEG nor PNG"));
    assert_int_equal(cq_image_header_size(in_tmp("h/none.jpg"), &w, &h, &err), CQ_EIO);
}

static void test_dataset_dlib_real(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/dlib/examples/faces/training.xml", cache_dir());
    if (access(path, R_OK) != 0) {
        print_message("skip: %s missing (set CALQ_CACHE or run make bootstrap)\n", path);
        skip();
    }
    cq_err err;
    cq_dataset *ds = cq_dataset_read(path, "dlib", NULL, &err);
    assert_non_null(ds);
    assert_int_equal(ds->n, 4);
    const int32_t want[4] = {7, 6, 2, 3};
    assert_memory_equal(ds->count, want, sizeof want);
    assert_int_equal(ds->nboxes, 18);
    assert_int_equal(ds->boxes_outside, 0);
    /* the JPEG header parser agrees with imglab's width/height attributes */
    for (int64_t i = 0; i < ds->n; i++) {
        int32_t w, h;
        assert_int_equal(cq_image_header_size(cq_dataset_path(ds, i), &w, &h, &err), CQ_OK);
        assert_int_equal(w, ds->width[i]);
        assert_int_equal(h, ds->height[i]);
    }
    int64_t *missing;
    assert_int_equal(cq_dataset_check_files(ds, &missing, &err), 0);
    cq_dataset_free(ds);
    snprintf(path, sizeof path, "%s/dlib/examples/faces/testing.xml", cache_dir());
    ds = cq_dataset_read(path, "dlib", NULL, &err);
    assert_non_null(ds);
    const int32_t want2[5] = {6, 3, 7, 7, 2};
    assert_int_equal(ds->n, 5);
    assert_memory_equal(ds->count, want2, sizeof want2);
    assert_int_equal(ds->width[4], 400);
    assert_int_equal(ds->height[4], 500);
    cq_dataset_free(ds);
}

static void test_dataset_dlib_ignore_outside_missing(void **state)
{
    (void)state;
    const char *p = PUT("d/set.xml",
                        "<?xml version='1.0' encoding='ISO-8859-1'?>\n<dataset><images>\n"
                        "<image file='a.jpg' width='100' height='80'>\n"
                        "  <box top='1' left='2' width='10' height='10'><label>face</label></box>\n"
                        "  <box top='5' left='90' width='20' height='10'/>\n"
                        "  <box top='5' left='5' width='5' height='5' ignore='1'/>\n"
                        "</image>\n<image file='sub/b.jpg'/>\n<image file='c.jpg'></image>\n"
                        "</images></dataset>\n");
    cq_err err;
    cq_dataset *ds = cq_ds_read_dlib(p, NULL, &err);
    assert_non_null(ds);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->count[0], 2); /* the ignored box is not counted */
    assert_int_equal(ds->box_n[0], 3);
    assert_int_equal(ds->boxes_ignored, 1);
    assert_int_equal(ds->boxes_outside, 1);
    assert_true(ds->box_flags[1] & CQ_BOX_OUTSIDE);
    assert_int_equal(ds->ncat, 1);
    assert_string_equal(cq_dataset_cat_name(ds, ds->box_label[0]), "face");
    assert_int_equal(ds->box_label[1], -1);
    assert_string_equal(cq_dataset_path(ds, 1), in_tmp("d/sub/b.jpg"));
    assert_int_equal(ds->width[1], 0); /* no attribute, no file: size unknown */
    int64_t *m;
    assert_int_equal(cq_dataset_check_files(ds, &m, &err), 3); /* all of them listed */
    assert_int_equal(m[0], 0);
    assert_int_equal(m[2], 2);
    free(m);
    cq_dataset_free(ds);
}

static void expect_error(cq_dataset *ds, const cq_err *err, const char *where, const char *what)
{
    assert_null(ds);
    if (!strstr(err->msg, where) || !strstr(err->msg, what))
        fail_msg("message '%s' lacks '%s' or '%s'", err->msg, where, what);
}

static void test_dataset_dlib_malformed(void **state)
{
    (void)state;
    cq_err err;
    char where[600];
    const char *p = PUT("m/cut.xml", "<dataset>\n<images>\n  <image file='a.jpg'>\n");
    snprintf(where, sizeof where, "%s:4:1: ", p);
    expect_error(cq_ds_read_dlib(p, NULL, &err), &err, where, "XML error: no element found");
    p = PUT("m/attr.xml", "<dataset><images>\n<image file='a.jpg'>\n   <box top='x' left='1' width='2' height='3'/>\n</image></images></dataset>");
    snprintf(where, sizeof where, "%s:3:4: ", p);
    expect_error(cq_ds_read_dlib(p, NULL, &err), &err, where, "attribute top='x': expected an integer");
    p = PUT("m/tag.xml", "<dataset><images>\n<image file='a.jpg'>\n</images></dataset>");
    snprintf(where, sizeof where, "%s:3:3: ", p);
    expect_error(cq_ds_read_dlib(p, NULL, &err), &err, where, "mismatched tag (expected the closing tag");
    p = PUT("m/nofile.xml", "<dataset><images><image/></images></dataset>");
    expect_error(cq_ds_read_dlib(p, NULL, &err), &err, ":1:18: ", "<image> without file='...'");
    expect_error(cq_ds_read_dlib(in_tmp("m/none.xml"), NULL, &err), &err, "none.xml", "No such file");
}

static const char coco_doc[] =
    "{\"info\": {\"year\": 2017, \"nested\": [[1, 2], {\"a\": null}]},\n"
    " \"annotations\": [\n"
    "  {\"segmentation\": [[1.5, 2, 3, 4]], \"area\": 1e2, \"iscrowd\": 0, \"image_id\": 20,\n"
    "   \"bbox\": [10, 20.25, 30, 40], \"category_id\": 3, \"id\": 1},\n"
    "  {\"segmentation\": {\"counts\": [1, 2], \"size\": [9, 9]}, \"iscrowd\": 1, \"image_id\": 20,\n"
    "   \"bbox\": [0, 0, 5, 5], \"category_id\": 1, \"id\": 2},\n"
    "  {\"image_id\": 10, \"bbox\": [600, 1, 100, 10], \"category_id\": 1, \"id\": 3},\n"
    "  {\"image_id\": 99, \"bbox\": [1, 1, 1, 1], \"category_id\": 1, \"id\": 4}],\n"
    " \"images\": [{\"id\": 10, \"file_name\": \"a\\/x.jpg\", \"width\": 640, \"height\": 480},\n"
    "             {\"id\": 20, \"file_name\": \"b.jpg\", \"width\": 100, \"height\": 100},\n"
    "             {\"id\": 30, \"file_name\": \"c.jpg\"}],\n"
    " \"categories\": [{\"id\": 1, \"name\": \"person\"}, {\"id\": 3, \"name\": \"car\"}]}\n";

static void test_dataset_coco(void **state)
{
    (void)state;
    cq_err err;
    cq_dataset *ds = cq_ds_read_coco_mem(coco_doc, sizeof coco_doc - 1, "mem.json", &err);
    if (!ds)
        fail_msg("%s", err.msg);
    assert_int_equal(ds->n, 3);
    assert_string_equal(cq_dataset_path(ds, 0), "a/x.jpg");
    assert_int_equal(ds->id[1], 20);
    const int32_t want[3] = {1, 1, 0}; /* the crowd box is not counted */
    assert_memory_equal(ds->count, want, sizeof want);
    assert_int_equal(ds->box_n[1], 2);
    assert_int_equal(ds->boxes_ignored, 1);
    assert_int_equal(ds->boxes_dropped, 1);  /* image 99 does not exist */
    assert_int_equal(ds->boxes_outside, 1);  /* 600 + 100 > 640 */
    int64_t b = ds->box_first[1];
    assert_true(ds->box[4 * b + 1] == 20.25f);
    assert_string_equal(cq_dataset_cat_name(ds, ds->box_label[b]), "car");
    assert_int_equal(ds->cat_id[ds->box_label[b]], 3);
    cq_dataset_free(ds);
    /* from a file: paths are joined to the file's folder */
    const char *p = put("c/inst.json", coco_doc, sizeof coco_doc - 1);
    ds = cq_ds_read_coco(p, NULL, &err);
    assert_non_null(ds);
    assert_string_equal(cq_dataset_path(ds, 1), in_tmp("c/b.jpg"));
    cq_dataset_free(ds);
}

static void coco_bad(const char *doc, const char *where, const char *what)
{
    cq_err err;
    expect_error(cq_ds_read_coco_mem(doc, strlen(doc), "bad.json", &err), &err, where, what);
}

static void test_dataset_coco_malformed(void **state)
{
    (void)state;
    coco_bad("{\"images\": [\n  {\"id\": 1 \"file_name\": \"a.jpg\"}]}", "bad.json:2:",
             "JSON parse error: after key and value, inside map, I expect ',' or '}'");
    coco_bad("{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\"}", "bad.json:1:",
             "JSON ends too early: expected the rest of the document");
    coco_bad("{\"annotations\": [\n{\"image_id\": 1,\n \"bbox\": [1, 2, 3]}]}", "bad.json:3:",
             "annotation object ends without a 4-number \"bbox\": expected [x, y, width, height]");
    coco_bad("[1, 2]", "bad.json:1:2: ", "expected a JSON object at the top");
    coco_bad("{\"images\": [{\"file_name\": \"a.jpg\"}]}", "bad.json:1:",
             "image object ends without \"id\": expected \"id\" and \"file_name\"");
    coco_bad("{\"images\": [{\"id\": \"7\", \"file_name\": \"a.jpg\"}]}", "bad.json:1:",
             "expected a number, found a string");
    coco_bad("{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\"}, {\"id\": 1, \"file_name\": \"b.jpg\"}]}",
             "bad.json: ", "image id 1 appears twice (images 1 and 2)");
    coco_bad("{\"images\": {\"id\": 1}}", "bad.json:1:", "expected an array for this section");
    coco_bad("{\"images\": [{\"id\": 1, \"width\": -5, \"file_name\": \"a\"}]}", "bad.json:1:",
             "expected an image size in pixels, found -5");
    coco_bad("{\"x\": tru}", "bad.json:1:", "JSON lexical error");
    coco_bad("{\"images\": [{\"id\": 1e400, \"file_name\": \"a\"}]}", "bad.json:1:",
             "expected an integer, found 1e400");
    coco_bad("{\"images\": [{\"id\": 2.5, \"file_name\": \"a\"}]}", "bad.json:1:",
             "expected an integer, found 2.5");
}

/* An error 3 MB into a file (chunks of 1 MiB): the line number still counts. */
static void test_dataset_coco_chunks(void **state)
{
    (void)state;
    size_t lines = 300000, cap = lines * 12 + 256, n = 0;
    char *doc = malloc(cap);
    n += (size_t)snprintf(doc + n, cap - n, "{\"info\": [\n");
    for (size_t i = 0; i < lines; i++)
        n += (size_t)snprintf(doc + n, cap - n, "%9zu,\n", i);
    n += (size_t)snprintf(doc + n, cap - n, "0],\n  \"images\": [{\"id\": 1,, }]}\n");
    const char *p = put("c/big.json", doc, n);
    free(doc);
    cq_err err;
    char where[600];
    snprintf(where, sizeof where, "%s:%zu:", p, lines + 3);
    expect_error(cq_ds_read_coco(p, NULL, &err), &err, where, "JSON parse error");
}

static void test_dataset_voc(void **state)
{
    (void)state;
    PUT("voc/Annotations/0001.xml",
        "<annotation><folder>VOC</folder><filename>0001.jpg</filename>\n"
        "<size><width>200</width><height>100</height><depth>3</depth></size>\n"
        "<object><name>dog</name><difficult>0</difficult>\n"
        "  <bndbox><xmin>11</xmin><ymin>21</ymin><xmax>50</xmax><ymax>60</ymax></bndbox>\n"
        "  <part><name>head</name><bndbox><xmin>12</xmin><ymin>22</ymin><xmax>20</xmax><ymax>30</ymax></bndbox></part>\n"
        "</object>\n"
        "<object><name>cat</name><difficult>1</difficult>\n"
        "  <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax></bndbox></object>\n"
        "<object><name>dog</name>\n"
        "  <bndbox><xmin>150</xmin><ymin>1</ymin><xmax>260</xmax><ymax>10</ymax></bndbox></object>\n"
        "</annotation>\n");
    PUT("voc/Annotations/0002.xml", "<annotation><filename>0002.jpg</filename></annotation>");
    PUT("voc/Annotations/notes.txt", "not an annotation");
    cq_err err;
    cq_dataset *ds = cq_ds_read_voc(in_tmp("voc/Annotations"), NULL, &err);
    if (!ds)
        fail_msg("%s", err.msg);
    assert_int_equal(ds->n, 2);
    assert_string_equal(cq_dataset_path(ds, 0), in_tmp("voc/JPEGImages/0001.jpg"));
    assert_int_equal(ds->width[0], 200);
    assert_int_equal(ds->count[0], 2); /* difficult not counted */
    assert_int_equal(ds->count[1], 0);
    assert_int_equal(ds->boxes_ignored, 1);
    assert_int_equal(ds->boxes_outside, 1);
    assert_true(ds->box[0] == 10.0f && ds->box[1] == 20.0f && ds->box[2] == 40.0f && ds->box[3] == 40.0f);
    assert_int_equal(ds->ncat, 2);
    cq_dataset_free(ds);
    PUT("vocbad/a.xml", "<annotation><filename>a.jpg</filename>\n<object><name>x</name><bndbox>"
                        "<xmin>1</xmin><ymin>zz</ymin></bndbox></object></annotation>");
    char where[600];
    snprintf(where, sizeof where, "%s:2:", in_tmp("vocbad/a.xml"));
    expect_error(cq_ds_read_voc(in_tmp("vocbad"), NULL, &err), &err, where,
                 "<ymin>zz</ymin>: expected a number");
    /* a class name too long for a label is an error, never a silent cut */
    char long_xml[512], name[200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(long_xml, sizeof long_xml, "<annotation><filename>a.jpg</filename>\n"
             "<object><name>%s</name></object></annotation>", name);
    PUT("vocbad/a.xml", long_xml);
    expect_error(cq_ds_read_voc(in_tmp("vocbad"), NULL, &err), &err, where,
                 "<name>: class name of 199 bytes (at most 127)");
}

static void test_dataset_yolo(void **state)
{
    (void)state;
    unsigned char b[64];
    put("y/images/a.jpg", (const char *)b, fake_jpeg(b, 200, 100));
    put("y/images/b.png", (const char *)b, fake_png(b, 50, 40));
    PUT("y/labels/classes.txt", "person\ncar\n");
    PUT("y/labels/a.txt", "0 0.5 0.5 0.2 0.4\n1 0.95 0.5 0.2 0.2\n\n");
    PUT("y/labels/b.txt", "1 0.5 0.5 1 1\n");
    PUT("y/labels/c.txt", "0 0.5 0.5 0.1 0.1\n");
    cq_err err;
    cq_dataset *ds = cq_ds_read_yolo(in_tmp("y/labels"), NULL, &err);
    if (!ds)
        fail_msg("%s", err.msg);
    assert_int_equal(ds->n, 3);
    assert_string_equal(cq_dataset_path(ds, 1), in_tmp("y/images/b.png"));
    assert_int_equal(ds->width[0], 200);
    assert_int_equal(ds->height[1], 40);
    /* normalised -> pixels goes through float products: a named tolerance */
    const float want_box[4] = {80, 30, 40, 40}, pixel_tol = 1e-4f;
    for (int k = 0; k < 4; k++)
        assert_true(fabsf(ds->box[k] - want_box[k]) < pixel_tol);
    assert_string_equal(cq_dataset_cat_name(ds, ds->box_label[1]), "car");
    assert_int_equal(ds->boxes_outside, 1); /* 0.95 + 0.1 > 1 */
    const int32_t want[3] = {2, 1, 1};
    assert_memory_equal(ds->count, want, sizeof want);
    int64_t *m;
    assert_int_equal(cq_dataset_check_files(ds, &m, &err), 1); /* c.jpg is missing */
    assert_int_equal(m[0], 2);
    free(m);
    cq_dataset_free(ds);
    PUT("ybad/a.txt", "0 0.5 0.5 0.2 0.4\n0 0.5 x 0.2 0.4\n");
    char where[600];
    snprintf(where, sizeof where, "%s:2:6: ", in_tmp("ybad/a.txt"));
    expect_error(cq_ds_read_yolo(in_tmp("ybad"), NULL, &err), &err, where,
                 "expected 'CLASS CX CY W H'");
}

static void test_dataset_csv(void **state)
{
    (void)state;
    unsigned char b[64];
    put("m/i/a.jpg", (const char *)b, fake_jpeg(b, 150, 150));
    PUT("m/plain.csv", "i/a.jpg,1\ni/b.jpg,3,dog;cat\n# comment\n\n\"i/c,d.jpg\",0\n");
    cq_err err;
    cq_dataset *ds = cq_ds_read_csv(in_tmp("m/plain.csv"), NULL, &err);
    if (!ds)
        fail_msg("%s", err.msg);
    assert_int_equal(ds->n, 3);
    const int32_t want[3] = {1, 3, 0};
    assert_memory_equal(ds->count, want, sizeof want);
    assert_int_equal(ds->width[0], 150); /* from the JPEG header */
    assert_string_equal(cq_dataset_path(ds, 2), in_tmp("m/i/c,d.jpg"));
    assert_int_equal(ds->box_n[1], 2);
    assert_true(ds->box_flags[ds->box_first[1]] & CQ_BOX_LABEL_ONLY);
    cq_dataset_free(ds);
    PUT("m/head.tsv", "labels\tcount\tpath\twidth\theight\nx\t2\tz.jpg\t64\t48\n");
    ds = cq_ds_read_csv(in_tmp("m/head.tsv"), NULL, &err);
    if (!ds)
        fail_msg("%s", err.msg);
    assert_int_equal(ds->n, 1);
    assert_int_equal(ds->count[0], 2);
    assert_int_equal(ds->width[0], 64);
    assert_int_equal(ds->height[0], 48);
    cq_dataset_free(ds);
    char where[600];
    const char *p = PUT("m/bad.csv", "a.jpg,1\nb.jpg,-2\n");
    snprintf(where, sizeof where, "%s:2:7: ", p);
    expect_error(cq_ds_read_csv(p, NULL, &err), &err, where, "count '-2': expected an integer >= 0");
    p = PUT("m/bad2.csv", "a.jpg,1\n\"b.jpg,1\n");
    snprintf(where, sizeof where, "%s:2:9: ", p);
    expect_error(cq_ds_read_csv(p, NULL, &err), &err, where, "expected a closing quote");
    p = PUT("m/bad3.csv", "file,n\na.jpg,1\n");
    snprintf(where, sizeof where, "%s:1:1: ", p);
    expect_error(cq_ds_read_csv(p, NULL, &err), &err, where, "expected columns 'path' and 'count'");
}

/* dlib's 55 single-face crops through a CSV manifest: count 1, 150x150 from the headers. */
static void test_dataset_csv_johns(void **state)
{
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s/dlib/examples/johns", cache_dir());
    DIR *d = opendir(root);
    if (!d) {
        print_message("skip: %s missing (set CALQ_CACHE or run make bootstrap)\n", root);
        skip();
    }
    char *text = malloc(1 << 16);
    size_t n = (size_t)snprintf(text, 1 << 16, "path,count\n");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", root, e->d_name);
        DIR *s = opendir(sub);
        struct dirent *f;
        while (s && (f = readdir(s)))
            if (strstr(f->d_name, ".jpg"))
                n += (size_t)snprintf(text + n, (1 << 16) - n, "%s/%s,1\n", e->d_name, f->d_name);
        if (s)
            closedir(s);
    }
    closedir(d);
    put("johns.csv", text, n);
    free(text);
    cq_ds_opts o = {root, 1};
    cq_err err;
    cq_dataset *ds = cq_ds_read_csv(in_tmp("johns.csv"), &o, &err);
    if (!ds)
        fail_msg("%s", err.msg);
    assert_int_equal(ds->n, 55);
    for (int64_t i = 0; i < ds->n; i++) {
        assert_int_equal(ds->count[i], 1);
        assert_int_equal(ds->width[i], 150);
        assert_int_equal(ds->height[i], 150);
    }
    cq_dataset_free(ds);
}

/* Hostile input: truncations and byte flips of valid files either read or
 * fail with a placed message; never a crash (run under make asan too). */
static void test_dataset_mutations(void **state)
{
    (void)state;
    uint64_t x = 12345;
    size_t n = sizeof coco_doc - 1;
    char *buf = malloc(n);
    static const char junk[] = "{}[],:\"0-.e \\\n\x01\xff";
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(buf, coco_doc, n);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = trial % 3 == 0 ? (size_t)(x >> 33) % n : n;
        for (int k = 0; k < 1 + trial % 4; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[(x >> 33) % n] = junk[(x >> 17) % (sizeof junk - 1)];
        }
        cq_err err;
        cq_dataset *ds = cq_ds_read_coco_mem(buf, len, "mut.json", &err);
        if (ds)
            cq_dataset_free(ds);
        else
            assert_true(strncmp(err.msg, "mut.json:", 9) == 0);
    }
    free(buf);
    static const char xml[] = "<dataset><images>\n<image file='a.jpg' width='10' height='10'>\n"
                              "<box top='1' left='1' width='2' height='2'><label>x</label></box>\n"
                              "</image></images></dataset>\n";
    char m[sizeof xml];
    for (int trial = 0; trial < 300; trial++) {
        memcpy(m, xml, sizeof xml);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        m[(x >> 33) % (sizeof xml - 1)] = junk[(x >> 17) % (sizeof junk - 1)];
        size_t len = trial % 2 ? sizeof xml - 1 : (size_t)(x >> 40) % (sizeof xml - 1);
        const char *p = put("mut.xml", m, len);
        cq_err err;
        cq_dataset *ds = cq_ds_read_dlib(p, NULL, &err);
        if (ds)
            cq_dataset_free(ds);
        else
            assert_non_null(strstr(err.msg, "mut.xml:"));
    }
}

static void test_dataset_read_dispatch(void **state)
{
    (void)state;
    cq_err err;
    assert_null(cq_dataset_read("x", "parquet", NULL, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "dataset: unknown format 'parquet' (coco, voc, yolo, dlib, csv, tsv)");
    cq_dataset *a = cq_ds_read_coco_mem(coco_doc, sizeof coco_doc - 1, "m", &err);
    cq_dataset *b = cq_ds_read_coco_mem(coco_doc, sizeof coco_doc - 1, "m", &err);
    assert_int_equal(cq_dataset_append(a, b, &err), CQ_OK);
    assert_int_equal(a->n, 6);
    assert_int_equal(a->nboxes, 6);
    assert_int_equal(a->ncat, 2);
    assert_int_equal(a->boxes_dropped, 2);
    assert_int_equal(a->boxes_outside, 2);
    assert_int_equal(a->count[4], 1);
    assert_int_equal(cq_dataset_append(a, a, &err), CQ_EINVAL);
    cq_dataset_free(a);
    cq_dataset_free(b);
    cq_dataset_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dataset_imghdr),
        cmocka_unit_test(test_dataset_dlib_real),
        cmocka_unit_test(test_dataset_dlib_ignore_outside_missing),
        cmocka_unit_test(test_dataset_dlib_malformed),
        cmocka_unit_test(test_dataset_coco),
        cmocka_unit_test(test_dataset_coco_malformed),
        cmocka_unit_test(test_dataset_coco_chunks),
        cmocka_unit_test(test_dataset_voc),
        cmocka_unit_test(test_dataset_yolo),
        cmocka_unit_test(test_dataset_csv),
        cmocka_unit_test(test_dataset_csv_johns),
        cmocka_unit_test(test_dataset_mutations),
        cmocka_unit_test(test_dataset_read_dispatch),
    };
    return cmocka_run_group_tests_name("dataset", tests, setup, teardown);
}
