/* fileio.c - whole-file atomic writes (see fileio.h). */
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cq_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

cq_status cq_write_atomic(const char *path, const void *data, size_t len, cq_err *err)
{
    size_t pn = strlen(path);
    char *tmp = malloc(pn + 5);
    if (!tmp)
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, pn);
    memcpy(tmp + pn, ".tmp", 5);
    cq_status st = CQ_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = cq_errf(err, CQ_EIO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = cq_errf(err, CQ_EIO, "%s: write failed: %s", tmp, w < 0 ? strerror(errno) : "no progress");
            break;
        }
        done += (size_t)w;
    }
    if (st == CQ_OK && fsync(fd) != 0)
        st = cq_errf(err, CQ_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == CQ_OK)
        st = cq_errf(err, CQ_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == CQ_OK && rename(tmp, path) != 0)
        st = cq_errf(err, CQ_EIO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st != CQ_OK)
        unlink(tmp);
    else
        cq_sync_dir(path);
    free(tmp);
    return st;
}
