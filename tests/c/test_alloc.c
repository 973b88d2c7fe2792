/* test_alloc.c - cq_alloc / cq_free's cache of large blocks (core/base/alloc.c):
 * a freed block of 1 MiB or more comes back to the next allocation of its
 * rounded size; the cache keeps 4 blocks and 64 MiB at most; small blocks
 * and blocks over the budget are not kept; several threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/tensor.h"

#define MiB ((size_t)1 << 20)

static void test_big_block_comes_back(void **state)
{
    (void)state;
    cq_alloc_trim();
    char *p = cq_alloc(3 * MiB);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % CQ_ALIGN, 0);
    memset(p, 7, 3 * MiB);
    cq_free(p);
    /* a size that rounds to the same 64 KiB grain takes it back */
    char *q = cq_alloc(3 * MiB - 1000);
    assert_ptr_equal(q, p);
    /* another size does not */
    char *r = cq_alloc(5 * MiB);
    assert_non_null(r);
    assert_ptr_not_equal(r, p);
    memset(r, 1, 5 * MiB);
    cq_free(q);
    cq_free(r);
    cq_alloc_trim();
    /* after a trim nothing is kept: a new block (or by chance the same
     * address from the system; either is fine), usable */
    char *s = cq_alloc(3 * MiB);
    assert_non_null(s);
    memset(s, 2, 3 * MiB);
    cq_free(s);
    cq_alloc_trim();
}

static void test_cache_is_bounded(void **state)
{
    (void)state;
    cq_alloc_trim();
    void *b[6];
    for (int i = 0; i < 6; i++) {
        b[i] = cq_alloc(2 * MiB);
        assert_non_null(b[i]);
    }
    for (int i = 0; i < 6; i++)
        cq_free(b[i]);
    /* the 4 freed last are kept, the first 2 given back */
    int back = 0;
    void *c[6];
    for (int i = 0; i < 6; i++) {
        c[i] = cq_alloc(2 * MiB);
        for (int k = 2; k < 6; k++)
            back += c[i] == b[k];
    }
    assert_int_equal(back, 4);
    for (int i = 0; i < 6; i++)
        cq_free(c[i]);
    cq_alloc_trim();
    /* a block over the 64 MiB budget is given back at once */
    void *big = cq_alloc(80 * MiB);
    assert_non_null(big);
    cq_free(big);
    void *again = cq_alloc(2 * MiB), *small = cq_alloc(1000);
    assert_non_null(again);
    assert_non_null(small);
    cq_free(small);
    cq_free(again);
    cq_alloc_trim();
}

static void *churn(void *arg)
{
    size_t size = (size_t)(uintptr_t)arg;
    for (int i = 0; i < 200; i++) {
        char *p = cq_alloc(size + (size_t)(i % 3) * 100000);
        if (!p)
            return (void *)1;
        p[0] = p[size - 1] = (char)i;
        cq_free(p);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)((1 + i) * MiB)), 0);
    for (int i = 0; i < 4; i++) {
        void *rc = NULL;
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_null(rc);
    }
    cq_alloc_trim();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_block_comes_back),
        cmocka_unit_test(test_cache_is_bounded),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
