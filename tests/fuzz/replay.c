/* replay.c - a fuzz harness as a cmocka program for `make test`: every file
 * of tests/fuzz/regress/NAME/ (the inputs that once crashed it, kept) and of
 * the seed corpus tests/fuzz/NAME/ goes through the harness's
 * LLVMFuzzerTestOneInput, which aborts on any broken contract; `make asan`
 * runs it under ASan + UBSan. Built once per harness with -DFUZZ_NAME.
 *
 *   build/tests/fuzz_onnx                 # the kept files, from the source tree
 *   build/tests/fuzz_onnx crash-1234 dir  # these files (and folders) instead
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int n_args;
static char **args;

/* feed path (a file, or every regular file of a folder, in name order) */
static int replay(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) {
        struct dirent **list;
        int n = scandir(path, &list, NULL, alphasort), done = 0;
        for (int i = 0; i < n; i++) {
            if (list[i]->d_name[0] != '.' && strcmp(list[i]->d_name, "README.md") != 0) {
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, list[i]->d_name);
                done += replay(sub);
            }
            free(list[i]);
        }
        free(list);
        return done;
    }
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    assert_int_equal(n, (size_t)st.st_size);
    /* an exact-size copy, so ASan sees a read one past the end */
    uint8_t *data = malloc(n ? n : 1);
    memcpy(data, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    return 1;
}

static void test_replay(void **state)
{
    (void)state;
    int done = 0;
    if (n_args > 0) {
        for (int i = 0; i < n_args; i++) done += replay(args[i]);
    } else {
        done += replay("tests/fuzz/regress/" FUZZ_NAME);
        done += replay("tests/fuzz/" FUZZ_NAME);
    }
    print_message("fuzz_" FUZZ_NAME ": %d files replayed\n", done);
    assert_true(done > 0);
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    n_args = argc - 1;
    args = argv + 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_replay)};
    return cmocka_run_group_tests_name("fuzz_" FUZZ_NAME, tests, NULL, NULL);
}
