/* l_conform.c - calq.exec's conformance functions: conform_case() runs one
 * ONNX backend test folder (exec/conform.h), conform_dirs() lists them. */
#include "lcalq.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exec/conform.h"

/* calq.exec.conform_case(dir [, rtol, atol]) -> "pass"|"fail"|"skip", message, sets */
int cq__lua_conform_case(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    double rtol = luaL_optnumber(L, 2, 1e-4), atol = luaL_optnumber(L, 3, 1e-5);
    cq_conform_result r;
    cq_conform_case(dir, rtol, atol, &r);
    lua_pushstring(L, cq_conform_verdict_name(r.verdict));
    lua_pushstring(L, r.msg);
    lua_pushinteger(L, r.sets);
    return 3;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    const char *dir;
    char **names;
    size_t n;
} dir_list;

/* Under lua_pcall: table, list -> fills the table with the dir/name paths. */
static int push_dir_list(lua_State *L)
{
    const dir_list *a = lua_touserdata(L, 2);
    lua_settop(L, 1);
    for (size_t i = 0; i < a->n; i++) {
        lua_pushfstring(L, "%s/%s", a->dir, a->names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 0;
}

/* calq.exec.conform_dirs(dir) -> sorted list of test folders: dir itself when
 * it holds a model.onnx, else its subfolders that do | nil, msg, code */
int cq__lua_conform_dirs(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    char path[4096];
    struct stat st;
    lua_newtable(L);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (stat(path, &st) == 0) {
        lua_pushstring(L, dir);
        lua_rawseti(L, -2, 1);
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        cq_err err;
        cq_errf(&err, CQ_EIO, "%s: %s", dir, strerror(errno));
        return cq__lua_fail(L, &err);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int oom = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s/model.onnx", dir, de->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                oom = 1;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            oom = 1;
            break;
        }
        n++;
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, cmp_str);
    /* names are C memory: the list is built under pcall, names freed before any raise */
    dir_list a = {dir, names, n};
    lua_pushcfunction(L, push_dir_list);
    lua_pushvalue(L, -2);
    lua_pushlightuserdata(L, &a);
    int rc = lua_pcall(L, 2, 0, 0);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (oom) {
        cq_err err;
        cq_errf(&err, CQ_ENOMEM, "%s: out of memory listing the folder", dir);
        return cq__lua_fail(L, &err);
    }
    return rc == LUA_OK ? 1 : lua_error(L);
}
