/* dtype.c - the dtype traits table and the scalar conversions behind it. */
#include "base/tensor.h"

#include <math.h>
#include <string.h>

/* ---- scalar conversions ------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t cq_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet, keep the sign */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float cq_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t cq_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x0200u : 0));
    if (a >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* result is subnormal or zero: exponent < -14 */
        /* value = a_float; f16 subnormal unit is 2^-24. Use float arithmetic,
         * which rounds to nearest even in the default mode. */
        float v = bits_f32(a) * 16777216.0f; /* * 2^24 */
        float r = nearbyintf(v);
        return (uint16_t)(sign | (uint32_t)r);
    }
    /* normal: rebias exponent 127 -> 15 and round the 13 dropped bits to even */
    uint32_t m = a + 0xc8000000u; /* subtract (127-15) << 23 */
    m += 0x0fffu + ((m >> 13) & 1u);
    return (uint16_t)(sign | (m >> 13));
}

float cq_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        float v = (float)m * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (e == 31)
        return bits_f32(sign | 0x7f800000u | (m << 13));
    return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

int32_t cq_round_sat(float x, int32_t lo, int32_t hi)
{
    if (x != x)
        return 0;
    if (x <= (float)lo)
        return lo;
    if (x >= (float)hi)
        return hi;
    return (int32_t)nearbyintf(x); /* default rounding mode: half to even */
}

static int64_t round_sat64(double x, double lo, double hi)
{
    if (x != x)
        return 0;
    if (x <= lo)
        return (int64_t)lo;
    if (x >= hi)
        return (int64_t)hi;
    return (int64_t)nearbyint(x);
}

/* ---- per-dtype array and element functions ----------------------------- */

static void f32_to_f32(const void *s, float *d, int64_t n) { memcpy(d, s, (size_t)n * 4); }
static void f32_from_f32(const float *s, void *d, int64_t n) { memcpy(d, s, (size_t)n * 4); }
static double f32_get(const void *p) { return *(const float *)p; }
static void f32_set(void *p, double v) { *(float *)p = (float)v; }

static void f16_to_f32(const void *s, float *d, int64_t n)
{
    const uint16_t *h = s;
    for (int64_t i = 0; i < n; i++)
        d[i] = cq_f16_to_f32(h[i]);
}
static void f16_from_f32(const float *s, void *d, int64_t n)
{
    uint16_t *h = d;
    for (int64_t i = 0; i < n; i++)
        h[i] = cq_f32_to_f16(s[i]);
}
static double f16_get(const void *p) { return cq_f16_to_f32(*(const uint16_t *)p); }
static void f16_set(void *p, double v) { *(uint16_t *)p = cq_f32_to_f16((float)v); }

static void bf16_to_f32(const void *s, float *d, int64_t n)
{
    const uint16_t *h = s;
    for (int64_t i = 0; i < n; i++)
        d[i] = cq_bf16_to_f32(h[i]);
}
static void bf16_from_f32(const float *s, void *d, int64_t n)
{
    uint16_t *h = d;
    for (int64_t i = 0; i < n; i++)
        h[i] = cq_f32_to_bf16(s[i]);
}
static double bf16_get(const void *p) { return cq_bf16_to_f32(*(const uint16_t *)p); }
static void bf16_set(void *p, double v) { *(uint16_t *)p = cq_f32_to_bf16((float)v); }

#define INT_TYPE(NAME, T, LO, HI)                                                   \
    static void NAME##_to_f32(const void *s, float *d, int64_t n)                   \
    {                                                                               \
        const T *x = s;                                                             \
        for (int64_t i = 0; i < n; i++)                                             \
            d[i] = (float)x[i];                                                     \
    }                                                                               \
    static void NAME##_from_f32(const float *s, void *d, int64_t n)                 \
    {                                                                               \
        T *x = d;                                                                   \
        for (int64_t i = 0; i < n; i++)                                             \
            x[i] = (T)round_sat64(s[i], (double)(LO), (double)(HI));                \
    }                                                                               \
    static double NAME##_get(const void *p) { return (double)*(const T *)p; }       \
    static void NAME##_set(void *p, double v)                                       \
    {                                                                               \
        *(T *)p = (T)round_sat64(v, (double)(LO), (double)(HI));                    \
    }

INT_TYPE(s8, int8_t, INT8_MIN, INT8_MAX)
INT_TYPE(u8, uint8_t, 0, UINT8_MAX)
INT_TYPE(s32, int32_t, INT32_MIN, INT32_MAX)
/* 2^63 is not representable in double below INT64_MAX; saturate one ulp short. */
INT_TYPE(s64, int64_t, -9223372036854775808.0, 9223372036854774784.0)

static void bool_to_f32(const void *s, float *d, int64_t n)
{
    const uint8_t *x = s;
    for (int64_t i = 0; i < n; i++)
        d[i] = x[i] ? 1.0f : 0.0f;
}
static void bool_from_f32(const float *s, void *d, int64_t n)
{
    uint8_t *x = d;
    for (int64_t i = 0; i < n; i++)
        x[i] = s[i] != 0.0f;
}
static double bool_get(const void *p) { return *(const uint8_t *)p ? 1.0 : 0.0; }
static void bool_set(void *p, double v) { *(uint8_t *)p = v != 0.0; }

/* ONNX TensorProto.DataType numbers */
enum { ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT8 = 3, ONNX_INT32 = 6, ONNX_INT64 = 7,
       ONNX_BOOL = 9, ONNX_FLOAT16 = 10, ONNX_BFLOAT16 = 16 };

#define T(NAME, SIZE, ONNX, NPY, FL, SG) \
    { #NAME, SIZE, ONNX, NPY, FL, SG, NAME##_to_f32, NAME##_from_f32, NAME##_get, NAME##_set }

static const cq_dtype_traits traits[CQ_DTYPE_COUNT] = {
    [CQ_F32] = T(f32, 4, ONNX_FLOAT, "<f4", 1, 1),
    [CQ_F16] = T(f16, 2, ONNX_FLOAT16, "<f2", 1, 1),
    [CQ_BF16] = T(bf16, 2, ONNX_BFLOAT16, NULL, 1, 1),
    [CQ_S8] = T(s8, 1, ONNX_INT8, "|i1", 0, 1),
    [CQ_U8] = T(u8, 1, ONNX_UINT8, "|u1", 0, 0),
    [CQ_S32] = T(s32, 4, ONNX_INT32, "<i4", 0, 1),
    [CQ_S64] = T(s64, 8, ONNX_INT64, "<i8", 0, 1),
    [CQ_BOOL] = T(bool, 1, ONNX_BOOL, "|b1", 0, 0),
};
/* Adding a dtype breaks the build until this table (and the names below) grow. */
typedef char cq_dtype_table_is_complete[(sizeof traits / sizeof traits[0] == 8 && CQ_DTYPE_COUNT == 8) ? 1 : -1];

const cq_dtype_traits *cq_dtype_info(cq_dtype dt)
{
    if ((int)dt < 0 || dt >= CQ_DTYPE_COUNT)
        return NULL;
    return &traits[dt];
}

int cq_dtype_from_name(const char *name, cq_dtype *out)
{
    static const struct { const char *alias; cq_dtype dt; } aliases[] = {
        {"float32", CQ_F32}, {"float", CQ_F32}, {"float16", CQ_F16}, {"half", CQ_F16},
        {"bfloat16", CQ_BF16}, {"int8", CQ_S8}, {"uint8", CQ_U8}, {"int32", CQ_S32},
        {"int64", CQ_S64}, {"i8", CQ_S8}, {"i32", CQ_S32}, {"i64", CQ_S64},
    };
    if (!name)
        return -1;
    for (int i = 0; i < CQ_DTYPE_COUNT; i++)
        if (strcmp(name, traits[i].name) == 0) {
            *out = (cq_dtype)i;
            return 0;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0) {
            *out = aliases[i].dt;
            return 0;
        }
    return -1;
}

int cq_dtype_from_onnx(int onnx_type, cq_dtype *out)
{
    for (int i = 0; i < CQ_DTYPE_COUNT; i++)
        if (traits[i].onnx_type == onnx_type) {
            *out = (cq_dtype)i;
            return 0;
        }
    return -1;
}
