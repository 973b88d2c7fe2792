/* two_states.c - two host threads, each with its own lua_State and its own
 * model, running at the same time (make tsan runs it under ThreadSanitizer;
 * docs/embedding.md "Threads" says what this may do).
 *
 *     two_states MODEL.onnx IMAGES.idx.gz [ROUNDS [THREADS_A THREADS_B]]
 *
 * Each thread loads MODEL (the Fashion-MNIST CNN) in its own state, sets its
 * kernel thread count (A: THREADS_A, default 1; B: THREADS_B, default 2),
 * runs it ROUNDS times (8) on the same 32 images, quantizes it to int8 on
 * them and runs that too, and checks that every run gives the bits of its
 * first. Exit 0 when both threads agree with themselves, 1 otherwise. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_calq_core(lua_State *L);

static const char *chunk =
    "local model_path, images, rounds, threads = ...\n"
    "local calq = require 'calq'\n"
    "local m = assert(calq.onnx.load(model_path))\n"
    "assert(m:set_threads(threads))\n"
    "local x = assert(calq.data.read_idx(images, 1, 32)):dequantize(1 / 255):view(32, 1, 28, 28)\n"
    "local function flat(v, out)\n"
    "  if type(v) == 'table' then for _, w in ipairs(v) do flat(w, out) end\n"
    "  else out[#out + 1] = ('%a'):format(v) end\n"
    "  return out\n"
    "end\n"
    "local function bits(t) return table.concat(flat(t:totable(), {}), ',') end\n"
    "local want = bits(assert(m:run{ input = x }).logits)\n"
    "for r = 2, rounds do\n"
    "  local got = bits(assert(m:run{ input = x }).logits)\n"
    "  if got ~= want then error(('fp32 round %d differs from the first'):format(r)) end\n"
    "end\n"
    "local r = assert(calq.quantize{ model = model_path, calib = x, auto = false, threads = threads })\n"
    "local q = r.model\n"
    "assert(q:set_threads(threads))\n"
    "local qwant = bits(assert(q:run{ input = x }).logits)\n"
    "for r = 2, rounds do\n"
    "  if bits(assert(q:run{ input = x }).logits) ~= qwant then\n"
    "    error(('int8 round %d differs from the first'):format(r))\n"
    "  end\n"
    "end\n"
    "q:close(); m:close()\n";

typedef struct {
    const char *model, *images;
    int rounds, threads;
    int ok;
    char msg[512];
} job;

static void *run(void *arg)
{
    job *j = arg;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "calq.core", luaopen_calq_core, 0);
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushstring(L, CALQ_SRC_DIR "/scripts/?.lua;" CALQ_SRC_DIR "/scripts/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    if (luaL_loadstring(L, chunk) != LUA_OK) {
        snprintf(j->msg, sizeof j->msg, "%s", lua_tostring(L, -1));
    } else {
        lua_pushstring(L, j->model);
        lua_pushstring(L, j->images);
        lua_pushinteger(L, j->rounds);
        lua_pushinteger(L, j->threads);
        if (lua_pcall(L, 4, 0, 0) == LUA_OK)
            j->ok = 1;
        else
            snprintf(j->msg, sizeof j->msg, "%s", lua_tostring(L, -1));
    }
    lua_close(L);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: two_states MODEL.onnx IMAGES.idx.gz [ROUNDS [THREADS_A THREADS_B]]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 8;
    job jobs[2] = {
        {argv[1], argv[2], rounds, argc > 4 ? atoi(argv[4]) : 1, 0, ""},
        {argv[1], argv[2], rounds, argc > 5 ? atoi(argv[5]) : 2, 0, ""},
    };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, run, &jobs[i])) {
            fprintf(stderr, "two_states: cannot start a thread\n");
            return 1;
        }
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        if (!jobs[i].ok) {
            fprintf(stderr, "two_states: thread %c (%d kernel threads): %s\n", 'A' + i,
                    jobs[i].threads, jobs[i].msg);
            bad = 1;
        }
    }
    if (!bad)
        printf("two_states: both threads ran %d rounds (fp32 and int8) at %d and %d kernel threads, "
               "each run the bits of its first\n", rounds, jobs[0].threads, jobs[1].threads);
    return bad;
}
