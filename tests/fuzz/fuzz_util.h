/*
 * fuzz_util.h - what the libFuzzer harnesses (tests/fuzz/fuzz_*.c) share:
 * a private scratch folder for the readers that take a path, and the error
 * contract every failing call must keep (status.h).
 *
 * Each harness defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize). `make fuzz` links it with libFuzzer; `make test`
 * links it with tests/fuzz/replay.c, a cmocka program that feeds it every
 * file of tests/fuzz/regress/NAME/ (the crashes found, kept) and of the seed
 * corpus tests/fuzz/NAME/.
 */
#ifndef CQ_FUZZ_UTIL_H
#define CQ_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>
#include <sys/stat.h>
#include "base/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failing call must say why: a failure code and a message. A harness
 * calls this after every failure, so a silent failure is a crash too. */
static inline void fuzz_check_err(const cq_err *err, const char *what)
{
    if (err->code == CQ_OK || err->code >= CQ_STATUS_COUNT || err->msg[0] == '\0') {
        fprintf(stderr, "%s failed without filling its cq_err (code %d, msg '%s')\n", what,
                (int)err->code, err->msg);
        abort();
    }
}

static char fuzz_dir_[256];

static int fuzz_rm_(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void fuzz_cleanup_(void)
{
    if (fuzz_dir_[0]) nftw(fuzz_dir_, fuzz_rm_, 16, FTW_DEPTH | FTW_PHYS);
}

/* The harness's scratch folder (made once per process in /dev/shm when it
 * can be written, else $TMPDIR or /tmp; removed at exit). */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/calq-fuzz-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(fuzz_dir_)) { perror("mkdtemp"); abort(); }
        atexit(fuzz_cleanup_);
    }
    return fuzz_dir_;
}

/* Write data to fuzz_dir()/name (sub-folders made as needed); returns the
 * full path in a static buffer. */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    for (char *s = path + strlen(fuzz_dir()) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(path, 0700);
        *s = '/';
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

#endif
