/* l_image.c - calq.Image (8-bit images) and preprocessing into tensors.
 *
 * calq.image: load(path [, max_pixels]), decode(bytes [, name [, max_pixels]]),
 * new(w, h, channels [, fill]), from_tensor(t), preprocess(images_or_paths,
 * spec_or_preset); scripts/calq/image.lua adds the parts written in Lua
 * (unmap, unmap_box, presets). Pixel coordinates are 0-based (x right, y down),
 * as boxes are. */
#include "lcalq.h"

#include <limits.h>
#include <string.h>

#include "image/image.h"
#include "image/preproc.h"

#define CQ_LUA_IMAGE "calq.Image"

typedef struct { cq_image *im; } ibox;

static ibox *new_box(lua_State *L)
{
    ibox *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->im = NULL;
    luaL_setmetatable(L, CQ_LUA_IMAGE);
    return b;
}

static cq_image *check_image(lua_State *L, int idx)
{
    ibox *b = luaL_checkudata(L, idx, CQ_LUA_IMAGE);
    if (!b->im)
        luaL_argerror(L, idx, "image is closed");
    return b->im;
}

static int push_or_fail(lua_State *L, ibox *b, cq_image *im, const cq_err *err)
{
    if (!im)
        return cq__lua_fail(L, err);
    b->im = im;
    return 1;
}

static int push_or_raise(lua_State *L, ibox *b, cq_image *im, const cq_err *err)
{
    if (!im)
        return luaL_error(L, "%s", err->msg);
    b->im = im;
    return 1;
}

static uint64_t opt_max_pixels(lua_State *L, int idx)
{
    lua_Integer m = luaL_optinteger(L, idx, 0);
    luaL_argcheck(L, m >= 0, idx, "max_pixels must be >= 0");
    return (uint64_t)m;
}

/* load(path [, max_pixels]) -> image | nil, msg, code */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    uint64_t mp = opt_max_pixels(L, 2);
    cq_err err;
    ibox *b = new_box(L);
    return push_or_fail(L, b, cq_image_load(path, mp, &err), &err);
}

/* decode(bytes [, name [, max_pixels]]) -> image | nil, msg, code */
static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optstring(L, 2, "<string>");
    uint64_t mp = opt_max_pixels(L, 3);
    cq_err err;
    ibox *b = new_box(L);
    return push_or_fail(L, b, cq_image_decode(s, n, name, mp, &err), &err);
}

/* Integer argument idx that fits an int (checked before the cast: a
 * lua_Integer like (1 << 32) + 4 must not become 4). */
static int check_int(lua_State *L, int idx, const char *what)
{
    lua_Integer v = luaL_checkinteger(L, idx);
    if (v < INT_MIN || v > INT_MAX)
        luaL_argerror(L, idx, lua_pushfstring(L, "%s must be in %d..%d", what, INT_MIN, INT_MAX));
    return (int)v;
}

static int l_new(lua_State *L)
{
    lua_Integer w = luaL_checkinteger(L, 1), h = luaL_checkinteger(L, 2);
    lua_Integer c = luaL_optinteger(L, 3, 3);
    lua_Integer fill = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, w >= 1 && w <= (1 << 16), 1, "width must be in 1..65536");
    luaL_argcheck(L, h >= 1 && h <= (1 << 16), 2, "height must be in 1..65536");
    luaL_argcheck(L, c == 1 || c == 3, 3, "channels must be 1 or 3");
    luaL_argcheck(L, fill >= 0 && fill <= 255, 4, "fill must be in 0..255");
    cq_err err;
    ibox *b = new_box(L);
    return push_or_raise(L, b, cq_image_new((int)w, (int)h, (int)c, (uint8_t)fill, &err), &err);
}

/* from_tensor(t): a u8 (or any dtype, saturated) [H, W] or [H, W, C] tensor. */
static int l_from_tensor(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    luaL_argcheck(L, t->ndim == 2 || (t->ndim == 3 && (t->shape[2] == 1 || t->shape[2] == 3)), 1,
                  "expected a [H, W] or [H, W, C] tensor with C 1 or 3");
    luaL_argcheck(L, t->shape[0] >= 1 && t->shape[1] >= 1 && t->shape[0] <= (1 << 16) &&
                     t->shape[1] <= (1 << 16), 1, "image sides must be in 1..65536");
    cq_err err;
    ibox *b = new_box(L);
    cq_tensor *u = cq_tensor_to(t, CQ_U8, &err);
    if (!u)
        return luaL_error(L, "%s", err.msg);
    b->im = cq_image_new((int)t->shape[1], (int)t->shape[0], t->ndim == 3 ? (int)t->shape[2] : 1, 0,
                         &err);
    if (b->im)
        memcpy(b->im->data, cq_tensor_data(u), cq_tensor_nbytes(u));
    cq_tensor_release(u);
    if (!b->im)
        return luaL_error(L, "%s", err.msg);
    return 1;
}

/* ---- methods ----------------------------------------------------------- */

/* im:tensor() -> u8 [H, W, C] (a copy) */
static int m_tensor(lua_State *L)
{
    cq_image *im = check_image(L, 1);
    int64_t shape[3] = {im->height, im->width, im->channels};
    cq_err err;
    cq_tensor *t = cq_tensor_empty(CQ_U8, 3, shape, &err);
    if (!t)
        return luaL_error(L, "%s", err.msg);
    memcpy(cq_tensor_data(t), im->data, cq_tensor_nbytes(t));
    cq__lua_push_tensor(L, t);
    return 1;
}

/* im:save(path [, quality]) -> true | nil, msg, code */
static int m_save(lua_State *L)
{
    cq_image *im = check_image(L, 1);
    const char *path = luaL_checkstring(L, 2);
    lua_Integer q = luaL_optinteger(L, 3, 95);
    luaL_argcheck(L, q >= 1 && q <= 100, 3, "quality must be in 1..100");
    cq_err err;
    if (cq_image_save(im, path, (int)q, &err))
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* im:crop(x, y, w, h) -> new image; raises when the rectangle is outside */
static int m_crop(lua_State *L)
{
    cq_image *im = check_image(L, 1);
    int x = check_int(L, 2, "x"), y = check_int(L, 3, "y");
    int w = check_int(L, 4, "width"), h = check_int(L, 5, "height");
    cq_err err;
    ibox *b = new_box(L);
    return push_or_raise(L, b, cq_image_crop(im, x, y, w, h, &err), &err);
}

static cq_interp check_interp(lua_State *L, int idx)
{
    static const char *const names[] = {"pil", "half_pixel", NULL};
    return (cq_interp)luaL_checkoption(L, idx, "pil", names);
}

/* im:resize(w, h [, "pil" | "half_pixel"]) -> new image */
static int m_resize(lua_State *L)
{
    cq_image *im = check_image(L, 1);
    lua_Integer w = luaL_checkinteger(L, 2), h = luaL_checkinteger(L, 3);
    luaL_argcheck(L, w >= 1 && w <= (1 << 16), 2, "width must be in 1..65536");
    luaL_argcheck(L, h >= 1 && h <= (1 << 16), 3, "height must be in 1..65536");
    cq_interp in = check_interp(L, 4);
    cq_err err;
    ibox *b = new_box(L);
    return push_or_raise(L, b, cq_image_resize(im, (int)w, (int)h, in, &err), &err);
}

/* im:convert(channels) -> new image */
static int m_convert(lua_State *L)
{
    cq_image *im = check_image(L, 1);
    lua_Integer c = luaL_checkinteger(L, 2);
    luaL_argcheck(L, c == 1 || c == 3, 2, "channels must be 1 or 3");
    cq_err err;
    ibox *b = new_box(L);
    return push_or_raise(L, b, cq_image_convert(im, (int)c, &err), &err);
}

/* dst:paste(src, x, y [, feather]) -> dst (in place) */
static int m_paste(lua_State *L)
{
    cq_image *dst = check_image(L, 1), *src = check_image(L, 2);
    int x = check_int(L, 3, "x"), y = check_int(L, 4, "y");
    lua_Integer f = luaL_optinteger(L, 5, 0);
    luaL_argcheck(L, f >= 0 && f <= 4096, 5, "feather must be in 0..4096");
    luaL_argcheck(L, dst->channels == src->channels, 2, "channel counts differ");
    cq_err err;
    if (cq_image_paste(dst, src, x, y, (int)f, &err))
        return luaL_error(L, "%s", err.msg);
    lua_settop(L, 1);
    return 1;
}

static int m_close(lua_State *L)
{
    ibox *b = luaL_checkudata(L, 1, CQ_LUA_IMAGE);
    cq_image_free(b->im);
    b->im = NULL;
    return 0;
}

static int mm_tostring(lua_State *L)
{
    ibox *b = luaL_checkudata(L, 1, CQ_LUA_IMAGE);
    if (!b->im)
        lua_pushliteral(L, "calq.Image (closed)");
    else
        lua_pushfstring(L, "calq.Image %dx%dx%d", b->im->width, b->im->height, b->im->channels);
    return 1;
}

static const luaL_Reg methods[] = {
    {"tensor", m_tensor}, {"save", m_save}, {"crop", m_crop}, {"resize", m_resize},
    {"convert", m_convert}, {"paste", m_paste}, {"close", m_close}, {NULL, NULL},
};

/* im.width, im.height, im.channels, then methods */
static int mm_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && (!strcmp(k, "width") || !strcmp(k, "height") || !strcmp(k, "channels"))) {
        cq_image *im = check_image(L, 1);
        lua_pushinteger(L, k[0] == 'w' ? im->width : k[0] == 'h' ? im->height : im->channels);
        return 1;
    }
    luaL_getmetatable(L, CQ_LUA_IMAGE);
    lua_getfield(L, -1, "__methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

/* ---- preprocessing ----------------------------------------------------- */

static int opt_field_int(lua_State *L, int t, const char *k, int def, int lo, int hi)
{
    int v = def;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        int ok;
        lua_Integer i = lua_tointegerx(L, -1, &ok);
        if (!ok || i < lo || i > hi)
            luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be an integer in %d..%d", k, lo, hi));
        v = (int)i;
    }
    lua_pop(L, 1);
    return v;
}

static int opt_field_option(lua_State *L, int t, const char *k, int def, const char *const *names)
{
    int v = def;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        const char *s = lua_tostring(L, -1);
        int i = 0;
        for (; s && names[i]; i++)
            if (!strcmp(s, names[i]))
                break;
        if (!s || !names[i])
            luaL_argerror(L, 2, lua_pushfstring(L, "field '%s': invalid option '%s'", k,
                                                s ? s : luaL_typename(L, -1)));
        v = i;
    }
    lua_pop(L, 1);
    return v;
}

/* mean / std: a number or a list of one number per channel. */
static void opt_field_vec(lua_State *L, int t, const char *k, float *v, int n)
{
    int ty = lua_getfield(L, t, k);
    if (ty == LUA_TNUMBER) {
        for (int c = 0; c < n; c++)
            v[c] = (float)lua_tonumber(L, -1);
    } else if (ty == LUA_TTABLE) {
        if (luaL_len(L, -1) != n)
            luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' needs %d numbers", k, n));
        for (int c = 0; c < n; c++) {
            lua_geti(L, -1, c + 1);
            if (!lua_isnumber(L, -1))
                luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' needs %d numbers", k, n));
            v[c] = (float)lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    } else if (ty != LUA_TNIL) {
        luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be a number or a list", k));
    }
    lua_pop(L, 1);
}

static void check_spec(lua_State *L, int idx, cq_preproc_spec *s)
{
    cq_err err;
    if (lua_type(L, idx) == LUA_TSTRING) {
        if (cq_preproc_preset(lua_tostring(L, idx), s, &err))
            luaL_argerror(L, idx, err.msg);
        return;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_getfield(L, idx, "preset") != LUA_TNIL) {
        if (!lua_isstring(L, -1) || cq_preproc_preset(lua_tostring(L, -1), s, &err))
            luaL_argerror(L, idx, lua_isstring(L, -1) ? err.msg : "field 'preset' must be a string");
    } else {
        cq_preproc_spec_init(s);
    }
    lua_pop(L, 1);
    static const char *const fits[] = {"stretch", "letterbox", "shorter_crop", NULL};
    static const char *const interps[] = {"pil", "half_pixel", NULL};
    static const char *const layouts[] = {"nchw", "nhwc", NULL};
    static const char *const orders[] = {"rgb", "bgr", NULL};
    static const char *const pads[] = {"right_bottom", "center", NULL};
    int size = opt_field_int(L, idx, "size", 0, 0, 16384);
    if (size)
        s->width = s->height = size;
    s->width = opt_field_int(L, idx, "width", s->width, 1, 16384);
    s->height = opt_field_int(L, idx, "height", s->height, 1, 16384);
    s->channels = opt_field_int(L, idx, "channels", s->channels, 1, 3);
    s->bgr = opt_field_option(L, idx, "order", s->bgr, orders);
    s->fit = (cq_fit)opt_field_option(L, idx, "fit", s->fit, fits);
    s->pad_center = opt_field_option(L, idx, "pad", s->pad_center, pads);
    s->pad_value = (uint8_t)opt_field_int(L, idx, "pad_value", s->pad_value, 0, 255);
    s->resize_shorter = opt_field_int(L, idx, "resize_shorter", s->resize_shorter, 1, 16384);
    s->interp = (cq_interp)opt_field_option(L, idx, "interp", s->interp, interps);
    s->layout = (cq_layout)opt_field_option(L, idx, "layout", s->layout, layouts);
    if (lua_getfield(L, idx, "scale") != LUA_TNIL) {
        if (!lua_isnumber(L, -1))
            luaL_argerror(L, idx, "field 'scale' must be a number");
        s->scale = (float)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    opt_field_vec(L, idx, "mean", s->mean, s->channels);
    opt_field_vec(L, idx, "std", s->std, s->channels);
    if (cq_preproc_check(s, &err))
        luaL_argerror(L, idx, err.msg);
}

/* preprocess(list_of_images_or_paths | image | path, spec) ->
 *   tensor, {{src_width=, src_height=, sx=, sy=, ox=, oy=}, ...} | nil, msg, code */
static int l_preprocess(lua_State *L)
{
    cq_preproc_spec s;
    check_spec(L, 2, &s);
    lua_settop(L, 2);
    if (!lua_istable(L, 1)) {
        luaL_argcheck(L, lua_isstring(L, 1) || luaL_testudata(L, 1, CQ_LUA_IMAGE), 1,
                      "expected an image, a path or a list of them");
        lua_createtable(L, 1, 0);
        lua_pushvalue(L, 1);
        lua_rawseti(L, -2, 1);
        lua_replace(L, 1);
    }
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n <= (1 << 24), 1, "need 1 or more images");
    /* images: a Lua table of boxes (loaded ones are collected by the GC on
     * any raise), then a plain pointer array in a userdata */
    lua_createtable(L, (int)n, 0); /* 3 */
    const cq_image **ims = lua_newuserdatauv(L, (size_t)n * sizeof *ims, 0); /* 4 */
    for (lua_Integer i = 1; i <= n; i++) {
        int ty = lua_geti(L, 1, i);
        if (ty == LUA_TSTRING) {
            cq_err err;
            ibox *b = new_box(L);
            b->im = cq_image_load(lua_tostring(L, -2), 0, &err);
            if (!b->im)
                return cq__lua_fail(L, &err);
            ims[i - 1] = b->im;
            lua_rawseti(L, 3, i);
        } else {
            ibox *b = luaL_testudata(L, -1, CQ_LUA_IMAGE);
            if (!b || !b->im)
                return luaL_argerror(L, 1, lua_pushfstring(L, "entry %d is not an image or a path",
                                                           (int)i));
            ims[i - 1] = b->im;
        }
        lua_pop(L, 1);
    }
    cq_preproc_transform *tr = lua_newuserdatauv(L, (size_t)n * sizeof *tr, 0);
    cq_err err;
    cq_tensor *t = cq_preproc_batch(&s, ims, (int)n, tr, &err);
    if (!t)
        return cq__lua_fail(L, &err);
    cq__lua_push_tensor(L, t);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_createtable(L, 0, 6);
        lua_pushinteger(L, tr[i].src_width); lua_setfield(L, -2, "src_width");
        lua_pushinteger(L, tr[i].src_height); lua_setfield(L, -2, "src_height");
        lua_pushnumber(L, tr[i].sx); lua_setfield(L, -2, "sx");
        lua_pushnumber(L, tr[i].sy); lua_setfield(L, -2, "sy");
        lua_pushnumber(L, tr[i].ox); lua_setfield(L, -2, "ox");
        lua_pushnumber(L, tr[i].oy); lua_setfield(L, -2, "oy");
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

static const luaL_Reg metamethods[] = {
    {"__index", mm_index}, {"__tostring", mm_tostring}, {"__gc", m_close}, {"__close", m_close},
    {NULL, NULL},
};

static const luaL_Reg functions[] = {
    {"load", l_load}, {"decode", l_decode}, {"new", l_new},
    {"from_tensor", l_from_tensor}, {"preprocess", l_preprocess}, {NULL, NULL},
};

int cq__lua_open_image(lua_State *L)
{
    if (luaL_newmetatable(L, CQ_LUA_IMAGE)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__methods");
        lua_pushliteral(L, CQ_LUA_IMAGE);
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}
