/* test_pb.c - protobuf wire format reader and writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "onnx/pb.h"

static const cq_pb_name names[] = {{1, "id"}, {2, "label"}, {3, "vals"}, {4, "ws"},
                                   {5, "child"}, {0, NULL}};

static void test_pb_roundtrip(void **state)
{
    (void)state;
    cq_pb_buf b = {0};
    int64_t vals[5] = {0, 1, 300, -1, INT64_MAX};
    float ws[3] = {1.5f, -2.0f, 0.0f};
    cq_pb_put_int(&b, 1, 150);
    cq_pb_put_string(&b, 2, "hello");
    cq_pb_put_packed_int(&b, 3, vals, 5);
    cq_pb_put_packed_float(&b, 4, ws, 3);
    size_t m = cq_pb_begin(&b, 5);
    cq_pb_put_int(&b, 1, 7);
    cq_pb_end(&b, m);
    cq_pb_put_int(&b, 3, 42);   /* unpacked element of the same repeated field */
    cq_pb_put_float(&b, 4, 9.0f);
    assert_false(b.failed);
    /* Known encoding of field 1 = 150: 08 96 01. */
    assert_int_equal(b.data[0], 0x08);
    assert_int_equal(b.data[1], 0x96);
    assert_int_equal(b.data[2], 0x01);

    cq_err err;
    cq_pb r;
    cq_pb_field f;
    cq_pb_init(&r, b.data, b.len, "t.bin", "Msg", names, &err);
    int64_t id = 0, *iv = NULL, ni = 0, capi = 0, child = 0;
    float *fv = NULL;
    int64_t nf = 0, capf = 0;
    char *label = NULL;
    int more;
    while ((more = cq_pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1: assert_int_equal(cq_pb_int64(&r, &f, &id), CQ_OK); break;
        case 2: assert_int_equal(cq_pb_set_string(&r, &f, &label), CQ_OK); break;
        case 3: assert_int_equal(cq_pb_append_int64(&r, &f, &iv, &ni, &capi), CQ_OK); break;
        case 4: assert_int_equal(cq_pb_append_float(&r, &f, &fv, &nf, &capf), CQ_OK); break;
        case 5: {
            cq_pb sub;
            cq_pb_field g;
            cq_pb_sub(&r, &f, "Child", names, &sub);
            assert_int_equal(cq_pb_next(&sub, &g), 1);
            assert_int_equal(cq_pb_int64(&sub, &g, &child), CQ_OK);
            assert_int_equal(cq_pb_next(&sub, &g), 0);
            break;
        }
        default: fail();
        }
    }
    assert_int_equal(more, 0);
    assert_int_equal(id, 150);
    assert_string_equal(label, "hello");
    assert_int_equal(ni, 6);
    assert_true(iv[3] == -1 && iv[4] == INT64_MAX && iv[5] == 42);
    assert_int_equal(nf, 4);
    assert_true(fv[0] == 1.5f && fv[3] == 9.0f);
    assert_int_equal(child, 7);
    free(iv);
    free(fv);
    free(label);
    free(b.data);
}

static int read_all(const uint8_t *p, size_t n, cq_err *err)
{
    cq_pb r;
    cq_pb_field f;
    int more;
    cq_pb_init(&r, p, n, "bad.bin", "NodeProto", names, err);
    while ((more = cq_pb_next(&r, &f)) > 0)
        ;
    return more;
}

static void test_pb_errors(void **state)
{
    (void)state;
    cq_err err;
    /* field 5 (LEN) claiming 99 bytes, 2 present. */
    const uint8_t past[] = {0x08, 0x01, 0x2a, 0x63, 'a', 'b'};
    assert_int_equal(read_all(past, sizeof past, &err), -1);
    assert_int_equal(err.code, CQ_EFORMAT);
    assert_string_equal(err.msg, "bad.bin: byte 2: NodeProto.child (field 5): length 99 runs "
                                 "past the end of the message (ends at 6)");
    const uint8_t varint[] = {0x08, 0xff, 0xff};
    assert_int_equal(read_all(varint, sizeof varint, &err), -1);
    assert_string_equal(err.msg, "bad.bin: byte 0: NodeProto.id (field 1): bad or truncated "
                                 "varint (message ends at 3)");
    const uint8_t group[] = {0x0b};
    assert_int_equal(read_all(group, sizeof group, &err), -1);
    assert_string_equal(err.msg, "bad.bin: byte 0: NodeProto.id (field 1): unsupported wire "
                                 "type 3 (groups are not allowed)");
    const uint8_t zero[] = {0x00};
    assert_int_equal(read_all(zero, sizeof zero, &err), -1);
    assert_string_equal(err.msg, "bad.bin: byte 0: NodeProto: invalid field number 0");
    const uint8_t fixed[] = {0x25, 1, 2};
    assert_int_equal(read_all(fixed, sizeof fixed, &err), -1);
    assert_string_equal(err.msg, "bad.bin: byte 0: NodeProto.ws (field 4): 4-byte value runs "
                                 "past the end of the message (ends at 3)");
    /* Varint longer than 10 bytes. */
    const uint8_t longv[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(read_all(longv, sizeof longv, &err), -1);
    /* Wire type mismatch. */
    cq_pb r;
    cq_pb_field f;
    const uint8_t wrong[] = {0x12, 0x01, 'x'}; /* field 2 LEN */
    cq_pb_init(&r, wrong, sizeof wrong, "w.bin", "NodeProto", names, &err);
    assert_int_equal(cq_pb_next(&r, &f), 1);
    int64_t v;
    assert_int_equal(cq_pb_int64(&r, &f, &v), CQ_EFORMAT);
    assert_string_equal(err.msg, "w.bin: byte 0: NodeProto.label (field 2): wire type "
                                 "length-delimited, expected varint");
    /* Packed fixed32 of a wrong length. */
    const uint8_t packed[] = {0x22, 0x03, 1, 2, 3};
    cq_pb_init(&r, packed, sizeof packed, "p.bin", "NodeProto", names, &err);
    assert_int_equal(cq_pb_next(&r, &f), 1);
    float *fv = NULL;
    int64_t nf = 0, cap = 0;
    assert_int_equal(cq_pb_append_float(&r, &f, &fv, &nf, &cap), CQ_EFORMAT);
    free(fv);
    /* Packed varints that run past the field. */
    const uint8_t pv[] = {0x1a, 0x02, 0x01, 0x80};
    cq_pb_init(&r, pv, sizeof pv, "p.bin", "NodeProto", names, &err);
    assert_int_equal(cq_pb_next(&r, &f), 1);
    int64_t *iv = NULL, ni = 0, capi = 0;
    assert_int_equal(cq_pb_append_int64(&r, &f, &iv, &ni, &capi), CQ_EFORMAT);
    free(iv);
}

/* Property: random byte strings never crash the reader and never read
 * past the buffer (checked under ASan). */
static void test_pb_random_bytes(void **state)
{
    (void)state;
    srand(42);
    for (int trial = 0; trial < 20000; trial++) {
        size_t n = (size_t)(rand() % 40);
        uint8_t *p = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)rand();
        cq_err err;
        cq_pb r;
        cq_pb_field f;
        cq_pb_init(&r, p, n, "r", "M", names, &err);
        int more;
        while ((more = cq_pb_next(&r, &f)) > 0) {
            assert_true(f.end <= n);
            if (f.wire == CQ_PB_LEN)
                assert_true(f.data_offset + f.len <= n);
        }
        free(p);
    }
}

static void test_pb_large_nested(void **state)
{
    (void)state;
    /* A payload over 128 bytes needs a 2-byte length: cq_pb_end moves it. */
    cq_pb_buf b = {0};
    size_t m = cq_pb_begin(&b, 5);
    for (int i = 0; i < 100; i++)
        cq_pb_put_int(&b, 1, i);
    cq_pb_end(&b, m);
    cq_err err;
    cq_pb r, sub;
    cq_pb_field f;
    cq_pb_init(&r, b.data, b.len, "n", "M", names, &err);
    assert_int_equal(cq_pb_next(&r, &f), 1);
    assert_int_equal(f.len, b.len - 3);
    cq_pb_sub(&r, &f, "C", names, &sub);
    int count = 0;
    while (cq_pb_next(&sub, &f) > 0)
        assert_int_equal((int)f.u, count++);
    assert_int_equal(count, 100);
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pb_roundtrip),
        cmocka_unit_test(test_pb_errors),
        cmocka_unit_test(test_pb_random_bytes),
        cmocka_unit_test(test_pb_large_nested),
    };
    return cmocka_run_group_tests_name("pb", tests, NULL, NULL);
}
