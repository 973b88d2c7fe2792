/* hw.c - the checks of a hardware profile (hw.h) and its efficiency lookup.
 *
 * The ranges are wide enough for every CPU calq may be asked to model (one
 * core to a 4096-core box, 64-bit NEON to 2048-bit SVE, AMX's 1024 int8 MACs
 * a cycle) and narrow enough that a typo, a NaN or an infinity is caught
 * before the estimators divide by it. Every comparison is written so that a
 * NaN fails it. */
#include "cost/hw.h"

#include <string.h>

static const char *const mac_names[CQ_HW_MAC_COUNT] = {"f32", "bf16", "s8", "s8_novnni"};
static const char *const cvt_names[CQ_HW_CVT_COUNT] = {"quant", "dequant", "requant",
                                                       "f32_bf16", "bf16_f32"};

const char *cq_hw_mac_name(cq_hw_mac k)
{
    return (unsigned)k < CQ_HW_MAC_COUNT ? mac_names[k] : "?";
}

const char *cq_hw_cvt_name(cq_hw_cvt k)
{
    return (unsigned)k < CQ_HW_CVT_COUNT ? cvt_names[k] : "?";
}

/* lo <= x <= hi, finite; false for NaN. */
static int in(double x, double lo, double hi)
{
    return x >= lo && x <= hi;
}

/* Name characters: a-z, 0-9, '_', '-', '.', '+' (file-name safe, no spaces). */
static int name_ok(const char *s, size_t cap, int allow_punct)
{
    size_t n = strnlen(s, cap);
    if (n == 0 || n == cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (allow_punct && (c == '-' || c == '.' || c == '+'));
        if (!ok)
            return 0;
    }
    return 1;
}

cq_status cq_hw_check(const cq_hw *hw, cq_err *err)
{
    if (!hw)
        return cq_errf(err, CQ_EINVAL, "profile: NULL");
    if (!name_ok(hw->name, sizeof hw->name, 1))
        return cq_errf(err, CQ_ERANGE,
                       "name: must be 1 to %d characters of letters, digits, '_', '-', '.', '+'",
                       CQ_HW_NAME - 1);
    if (hw->cores < 1 || hw->cores > CQ_HW_MAX_CORES)
        return cq_errf(err, CQ_ERANGE, "cores: %d is not in 1..%d", hw->cores, CQ_HW_MAX_CORES);
    if (!in(hw->ghz, 0.1, 10))
        return cq_errf(err, CQ_ERANGE, "ghz: %g is not in 0.1..10", hw->ghz);
    int vb = hw->vector_bits;
    if (vb != 64 && vb != 128 && vb != 256 && vb != 512 && vb != 1024 && vb != 2048)
        return cq_errf(err, CQ_ERANGE, "vector_bits: %d is not one of 64, 128, 256, 512, 1024, 2048",
                       vb);
    if (hw->amx != 0 && hw->amx != 1)
        return cq_errf(err, CQ_ERANGE, "amx: %d is not 0 or 1", hw->amx);
    for (int k = 0; k < CQ_HW_MAC_COUNT; k++) {
        double lo = k == CQ_HW_MAC_F32 ? 0.5 : 0;
        if (!in(hw->macs[k], lo, CQ_HW_MAX_MACS))
            return cq_errf(err, CQ_ERANGE, "macs.%s: %g is not in %g..%g (MACs per cycle per core%s)",
                           mac_names[k], hw->macs[k], lo, (double)CQ_HW_MAX_MACS,
                           k == CQ_HW_MAC_F32 ? "" : "; 0: not available");
    }
    for (int k = 0; k < CQ_HW_MAC_COUNT; k++) {
        int tile = k == CQ_HW_MAC_BF16 || k == CQ_HW_MAC_S8;
        double lo = hw->amx && tile ? 1 : 0, hi = hw->amx && tile ? CQ_HW_MAX_MACS : 0;
        if (!in(hw->amx_macs[k], lo, hi))
            return cq_errf(err, CQ_ERANGE, "amx_macs.%s: %g is not in %g..%g%s", mac_names[k],
                           hw->amx_macs[k], lo, hi,
                           !tile ? " (AMX tiles have bf16 and s8 only)"
                                 : hw->amx ? " (amx = true: give the tiles' MACs/cycle/core)"
                                           : " (amx = false)");
    }
    if (hw->n_cache < 1 || hw->n_cache > CQ_HW_MAX_CACHE)
        return cq_errf(err, CQ_ERANGE, "caches: %d levels, not 1..%d", hw->n_cache,
                       CQ_HW_MAX_CACHE);
    for (int i = 0; i < hw->n_cache; i++) {
        const cq_hw_cache *c = &hw->cache[i];
        if (c->size < 1024 || c->size > ((int64_t)1 << 40))
            return cq_errf(err, CQ_ERANGE, "caches[%d].size: %lld bytes, not in 1 KiB..1 TiB", i + 1,
                           (long long)c->size);
        if (i > 0 && c->size <= hw->cache[i - 1].size)
            return cq_errf(err, CQ_ERANGE,
                           "caches[%d].size: %lld bytes, not larger than caches[%d]'s %lld (L1 first)",
                           i + 1, (long long)c->size, i, (long long)hw->cache[i - 1].size);
        if (!in(c->bw, 1e-3, 4096))
            return cq_errf(err, CQ_ERANGE, "caches[%d].bw: %g is not in 0.001..4096 (bytes/cycle/core)",
                           i + 1, c->bw);
        if (!in(c->latency, 0.5, 10000))
            return cq_errf(err, CQ_ERANGE, "caches[%d].latency: %g is not in 0.5..10000 (cycles)",
                           i + 1, c->latency);
        if (c->shared != 0 && c->shared != 1)
            return cq_errf(err, CQ_ERANGE, "caches[%d].shared: %d is not 0 or 1", i + 1, c->shared);
    }
    if (!in(hw->mem_bw, 0.01, 1e5))
        return cq_errf(err, CQ_ERANGE, "mem_bw: %g is not in 0.01..100000 (GB/s)", hw->mem_bw);
    if (hw->mem_bw_core != 0 && !in(hw->mem_bw_core, 0.01, hw->mem_bw))
        return cq_errf(err, CQ_ERANGE, "mem_bw_core: %g is not in 0.01..mem_bw (%g GB/s)",
                       hw->mem_bw_core, hw->mem_bw);
    for (int k = 0; k < CQ_HW_CVT_COUNT; k++)
        if (!in(hw->cvt[k], 1e-3, 4096))
            return cq_errf(err, CQ_ERANGE, "cvt.%s: %g is not in 0.001..4096 (elements/cycle/core)",
                           cvt_names[k], hw->cvt[k]);
    if (!in(hw->node_ns, 0, 1e9))
        return cq_errf(err, CQ_ERANGE, "node_ns: %g is not in 0..1e9", hw->node_ns);
    if (hw->n_eff < 0 || hw->n_eff > CQ_HW_MAX_EFF)
        return cq_errf(err, CQ_ERANGE, "efficiency: %d classes, not 0..%d", hw->n_eff,
                       CQ_HW_MAX_EFF);
    for (int i = 0; i < hw->n_eff; i++) {
        const cq_hw_eff *e = &hw->eff[i];
        if (!name_ok(e->name, sizeof e->name, 0))
            return cq_errf(err, CQ_ERANGE,
                           "efficiency: class %d's name is not 1 to %d letters, digits or '_'", i + 1,
                           (int)sizeof e->name - 1);
        if (!in(e->value, 1e-3, CQ_HW_MAX_EFF_VALUE))
            return cq_errf(err, CQ_ERANGE, "efficiency.%s: %g is not in 0.001..%g", e->name,
                           e->value, CQ_HW_MAX_EFF_VALUE);
        for (int j = 0; j < i; j++)
            if (strcmp(hw->eff[j].name, e->name) == 0)
                return cq_errf(err, CQ_ERANGE, "efficiency.%s: given twice", e->name);
    }
    if (hw->n_call < 0 || hw->n_call > CQ_HW_MAX_EFF)
        return cq_errf(err, CQ_ERANGE, "call_ns: %d classes, not 0..%d", hw->n_call, CQ_HW_MAX_EFF);
    for (int i = 0; i < hw->n_call; i++) {
        const cq_hw_eff *e = &hw->call[i];
        if (!name_ok(e->name, sizeof e->name, 0))
            return cq_errf(err, CQ_ERANGE,
                           "call_ns: class %d's name is not 1 to %d letters, digits or '_'", i + 1,
                           (int)sizeof e->name - 1);
        if (!in(e->value, 0, 1e9))
            return cq_errf(err, CQ_ERANGE, "call_ns.%s: %g is not in 0..1e9", e->name, e->value);
        for (int j = 0; j < i; j++)
            if (strcmp(hw->call[j].name, e->name) == 0)
                return cq_errf(err, CQ_ERANGE, "call_ns.%s: given twice", e->name);
    }
    return CQ_OK;
}

double cq_hw_call_ns(const cq_hw *hw, const char *name)
{
    if (!hw || !name)
        return 0;
    for (int i = 0; i < hw->n_call && i < CQ_HW_MAX_EFF; i++)
        if (strcmp(hw->call[i].name, name) == 0)
            return hw->call[i].value;
    return 0;
}

double cq_hw_efficiency(const cq_hw *hw, const char *name)
{
    if (!hw || !name)
        return 1.0;
    for (int i = 0; i < hw->n_eff && i < CQ_HW_MAX_EFF; i++)
        if (strcmp(hw->eff[i].name, name) == 0)
            return hw->eff[i].value;
    return 1.0;
}

int cq_hw_cache_level(const cq_hw *hw, double bytes)
{
    for (int i = 0; i < hw->n_cache; i++) {
        /* a shared level's size is the whole: one core's share of it under
         * threads is the estimator's business; here the whole counts */
        if (bytes <= (double)hw->cache[i].size)
            return i;
    }
    return hw->n_cache;
}

double cq_hw_peak_gmacs(const cq_hw *hw, cq_hw_mac kind)
{
    if ((unsigned)kind >= CQ_HW_MAC_COUNT)
        return 0;
    return hw->macs[kind] * hw->ghz;
}
