/* test_kern_share.c - how a convolution's work is shared out over the
 * kernel threads (kern_conv_run.c): the grid of output rows and channel
 * panels, and its cells. That the shares compute the right bits at 1-3
 * threads is test_kern.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kern/kern_internal.h"

/* cq__share_grid: every (row, panel) of the grid in exactly one share, for
 * every thread count up to 5, and no share left idle where groups of half
 * the grid's rows would give each one: MobileNetV2's 14x14 map in one group
 * of 14 rows went whole to one share of two. */
static void test_kern_share_grid(void **state)
{
    (void)state;
    static const int64_t cases[][3] = {
        /* oh, the grid's rows, panels */
        {14, 14, 1}, {14, 14, 2}, {7, 7, 5}, {7, 7, 1}, {56, 8, 1}, {56, 8, 3}, {1, 1, 16},
        {1, 1, 1}, {28, 28, 4}, {13, 5, 2}, {112, 3, 7}, {2, 2, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t oh = cases[c][0], rows = cases[c][1], np = cases[c][2];
        for (int n = 1; n <= 10; n++) {
            int heavy = n > 5; /* the weights-heavy flag: ties go to panels */
            n -= heavy ? 5 : 0;
            int seen[112][16];
            memset(seen, 0, sizeof seen);
            int64_t r0 = -1;
            int idle = 0;
            for (int part = 0; part < n; part++) {
                cq__grid_share s;
                cq__share_grid(oh, rows, np, heavy, part, n, &s);
                assert_true(s.rows >= 1 && s.rows <= rows && 2 * s.rows >= rows);
                if (r0 < 0)
                    r0 = s.rows;
                assert_int_equal(s.rows, r0); /* one grid for every share */
                assert_true(s.ja >= 0 && s.ja <= s.jb && s.jb <= np);
                int64_t units = (oh + s.rows - 1) / s.rows;
                assert_true(s.ga >= 0 && s.ga <= s.gb && s.gb <= units);
                idle += s.ga == s.gb || s.ja == s.jb;
                for (int64_t g = s.ga; g < s.gb; g++)
                    for (int64_t y = g * s.rows; y < oh && y < (g + 1) * s.rows; y++)
                        for (int64_t j = s.ja; j < s.jb; j++)
                            seen[y][j]++;
            }
            for (int64_t y = 0; y < oh; y++)
                for (int64_t j = 0; j < np; j++)
                    if (seen[y][j] != 1)
                        fail_msg("oh %lld rows %lld panels %lld, %d shares: row %lld panel %lld "
                                 "in %d shares", (long long)oh, (long long)rows, (long long)np, n,
                                 (long long)y, (long long)j, seen[y][j]);
            /* groups shrink to half the grid's rows at most */
            int64_t most_units = (oh + (rows + 1) / 2 - 1) / ((rows + 1) / 2);
            if (n <= most_units && idle)
                fail_msg("oh %lld rows %lld panels %lld: %d of %d shares idle", (long long)oh,
                         (long long)rows, (long long)np, idle, n);
            n += heavy ? 5 : 0;
        }
    }
    /* the case that was one share's: 14 rows in one group, one panel */
    cq__grid_share s;
    cq__share_grid(14, 14, 1, 0, 0, 2, &s);
    assert_int_equal(s.rows, 7);
    assert_int_equal(s.gb - s.ga, 1);
    /* a tie (14 rows or 4 panels over two): rows, or panels when weights-heavy */
    cq__share_grid(14, 14, 4, 0, 1, 2, &s);
    assert_true(s.ja == 0 && s.jb == 4 && s.gb - s.ga == 1);
    cq__share_grid(14, 14, 4, 1, 1, 2, &s);
    assert_true(s.ja == 2 && s.jb == 4 && s.ga == 0 && s.gb == 1);
}

/* cq__share_cells: every (row, panel) in exactly one share's rectangles,
 * at most 3 of them, rows within the map and groups of at least a row; by
 * cells, the busiest share has the fewest cells an even split can give; a
 * 7x7 map with 5 panels over two shares goes by cells (18 / 17 of 35),
 * and without `cells` (tiles across rows) never. */
static void test_kern_share_cells(void **state)
{
    (void)state;
    static const int64_t cases[][3] = {
        /* oh, the grid's rows, panels */
        {7, 7, 5}, {7, 7, 3}, {7, 7, 15}, {14, 14, 5}, {7, 7, 1}, {1, 1, 16}, {13, 5, 3},
        {3, 3, 7},  {56, 8, 3}, {28, 28, 4}, {9, 9, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t oh = cases[c][0], rows = cases[c][1], np = cases[c][2];
        for (int v = 0; v < 24; v++) {
            int n = 1 + v % 6, heavy = (v / 6) & 1, cells = v / 12;
            int seen[64][16];
            memset(seen, 0, sizeof seen);
            int64_t most = 0, used = 0;
            for (int part = 0; part < n; part++) {
                cq__grid_rect rc[3];
                int64_t rows0 = 0, mine = 0;
                int nr = cq__share_cells(oh, rows, np, heavy, cells, part, n, rc, &rows0);
                assert_true(nr >= 1 && nr <= 3 && rows0 >= 1 && rows0 <= rows);
                used += nr > 1;
                for (int q = 0; q < nr; q++) {
                    assert_true(rc[q].ra >= 0 && rc[q].rb <= oh && rc[q].ja >= 0 &&
                                rc[q].ja <= rc[q].jb && rc[q].jb <= np);
                    for (int64_t y = rc[q].ra; y < rc[q].rb; y++)
                        for (int64_t j = rc[q].ja; j < rc[q].jb; j++, mine++)
                            seen[y][j]++;
                }
                most = mine > most ? mine : most;
            }
            for (int64_t y = 0; y < oh; y++)
                for (int64_t j = 0; j < np; j++)
                    if (seen[y][j] != 1)
                        fail_msg("oh %lld rows %lld panels %lld, %d shares (cells %d): row %lld "
                                 "panel %lld in %d shares", (long long)oh, (long long)rows,
                                 (long long)np, n, cells, (long long)y, (long long)j, seen[y][j]);
            if (!cells)
                assert_int_equal(used, 0);
            if (used)
                assert_int_equal(most, (oh * np + n - 1) / n);
            if (cells && oh == 7 && np == 5 && n == 2)
                assert_int_equal(most, 18);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_share_grid),
        cmocka_unit_test(test_kern_share_cells),
    };
    return cmocka_run_group_tests_name("kern_share", tests, NULL, NULL);
}
