/* cost.c - the cost estimators (cost.h): per node of a planned executor, the
 * compute, memory, conversion and fixed terms on a hardware profile, and the
 * whole-model cache simulation that says which level each tensor comes from.
 * The kernel classes and tile shapes are in cost_kernel.c. */
#include "cost/cost.h"
#include "cost/cost_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_info.h"

/* ---- the cache simulation ------------------------------------------------ */

/* An LRU stack at tensor granularity: each value's last access time; a
 * value's reuse distance is the bytes of the distinct values accessed since,
 * read from a Fenwick tree over time that holds each value's bytes at its
 * last access (so a whole model costs O(accesses log accesses)). */
typedef struct lru {
    int n;            /* values */
    int64_t *bytes;   /* footprint of each value at its last access */
    int64_t *stamp;   /* last access, 0: never */
    int64_t now, cap; /* time; the most accesses the tree holds */
    int64_t *tree;    /* Fenwick tree over times 1..cap */
    int64_t total;    /* bytes of the touched values */
} lru;

static int lru_init(lru *s, int n, int64_t cap)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->cap = cap;
    s->bytes = calloc((size_t)n + 1, sizeof *s->bytes);
    s->stamp = calloc((size_t)n + 1, sizeof *s->stamp);
    s->tree = calloc((size_t)cap + 1, sizeof *s->tree);
    return s->bytes && s->stamp && s->tree ? 0 : -1;
}

static void lru_free(lru *s)
{
    free(s->bytes);
    free(s->stamp);
    free(s->tree);
}

static void fw_add(lru *s, int64_t i, int64_t d)
{
    for (; i <= s->cap; i += i & -i)
        s->tree[i] += d;
}

static int64_t fw_sum(const lru *s, int64_t i)
{
    int64_t r = 0;
    for (; i > 0; i -= i & -i)
        r += s->tree[i];
    return r;
}

/* Bytes of the distinct values touched after v's last access; -1 when v was
 * never touched (a cold miss). */
static int64_t lru_distance(const lru *s, int v)
{
    return s->stamp[v] ? s->total - fw_sum(s, s->stamp[v]) : -1;
}

static void lru_touch(lru *s, int v, int64_t bytes)
{
    if (s->now >= s->cap)
        return; /* cannot happen: cap counts every access of the runs */
    if (s->stamp[v]) {
        fw_add(s, s->stamp[v], -s->bytes[v]);
        s->total -= s->bytes[v];
    }
    s->stamp[v] = ++s->now;
    s->bytes[v] = bytes;
    fw_add(s, s->now, bytes);
    s->total += bytes;
}

/* Capacity of cache level l for a model on tu cores: a private level holds
 * tu slices of the data (one per core), a shared one the cores' share of it
 * (the other cores of the socket are taken to use theirs). */
static double level_capacity(const cq_hw *hw, int l, int tu)
{
    const cq_hw_cache *c = &hw->cache[l];
    return c->shared ? (double)c->size * tu / hw->cores : (double)c->size * tu;
}

/* Bytes per ns the tu cores draw from level l (hw->n_cache: DRAM). */
static double level_bw(const cq_hw *hw, int l, int tu)
{
    if (l >= hw->n_cache) {
        double core = hw->mem_bw_core > 0 ? hw->mem_bw_core : hw->mem_bw;
        return fmin(core * tu, hw->mem_bw); /* GB/s = bytes/ns */
    }
    return hw->cache[l].bw * hw->ghz * tu;
}

/* What a node's tensors take from each level: bytes, and ns at the level's
 * bandwidth (index hw->n_cache: DRAM). */
typedef struct traffic {
    double bytes[CQ_HW_MAX_CACHE + 1];
    double ns[CQ_HW_MAX_CACHE + 1];
} traffic;

/* Add what a tensor of `bytes` at reuse distance d takes from each level to
 * t: in an LRU stack the tensor occupies the positions [d, d + bytes), and
 * level l holds the positions below its capacity, so a tensor straddling a
 * capacity comes partly from each side. d < 0 (never touched: a cold miss)
 * is all DRAM. write: the bytes are stored, and a store past L1 moves its
 * line twice (the read for ownership and the write-back). */
static void serve(const cq_hw *hw, int tu, int64_t d, int64_t bytes, int write, traffic *t)
{
    double twice = write ? 2 : 1;
    if (d < 0) {
        t->bytes[hw->n_cache] += (double)bytes;
        t->ns[hw->n_cache] += twice * (double)bytes / level_bw(hw, hw->n_cache, tu);
        return;
    }
    double lo = (double)d, hi = lo + (double)bytes, below = 0;
    for (int l = 0; l <= hw->n_cache; l++) {
        double cap = l < hw->n_cache ? level_capacity(hw, l, tu) : hi;
        double a = lo > below ? lo : below, b = hi < cap ? hi : cap;
        if (b > a) {
            t->bytes[l] += b - a;
            t->ns[l] += (write && l > 0 ? twice : 1) * (b - a) / level_bw(hw, l, tu);
        }
        below = cap > below ? cap : below;
    }
}

/* The first level whose capacity holds `bytes` (the last one + 1: DRAM). */
static int level_of(const cq_hw *hw, int tu, int64_t bytes)
{
    for (int l = 0; l < hw->n_cache; l++)
        if ((double)bytes <= level_capacity(hw, l, tu))
            return l;
    return hw->n_cache;
}

/* ---- one node ------------------------------------------------------------- */

static int64_t tinfo_numel(const cq_tinfo *t)
{
    int64_t k = 1;
    for (int d = 0; d < t->ndim; d++)
        k *= t->shape[d];
    return k;
}

/* The distinct values chain c reads from outside it and writes, with their
 * bytes as the kernel holds them. */
typedef struct moved {
    int n;
    int v[CQ_EXEC_CHAIN_MAX * (CQ_OP_MAX_INPUTS + CQ_OP_MAX_OUTPUTS)];
    int64_t bytes[CQ_EXEC_CHAIN_MAX * (CQ_OP_MAX_INPUTS + CQ_OP_MAX_OUTPUTS)];
    /* 0 read, 1 written, 2 written into new pages: a graph output of
     * FRESH_BYTES or more in a cold run (a warm one reuses the block the
     * last run's output was in: alloc.c's cache) */
    unsigned char write[CQ_EXEC_CHAIN_MAX * (CQ_OP_MAX_INPUTS + CQ_OP_MAX_OUTPUTS)];
} moved;

/* Blocks from this size up come from the system as new zero-filled pages
 * (the glibc mmap threshold the calq module sets, bindings/lcalq.c) unless
 * cq_alloc has one of the size kept from an earlier run (alloc.c: a warm
 * run's outputs); smaller ones are reused from the heap, still cached. */
#define FRESH_BYTES (1 << 20)

static int is_graph_output(const cq_graph *g, int v)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == v)
            return 1;
    return 0;
}

static int made_in_chain(const cq_graph *g, const cq_exec_chain *c, int upto, int v)
{
    for (int k = 0; k < upto; k++) {
        const cq_node *n = &g->nodes[c->node[k]];
        for (int o = 0; o < n->n_outputs; o++)
            if (n->outputs[o] == v)
                return 1;
    }
    return 0;
}

static void moved_add(moved *m, int v, int64_t bytes, int write)
{
    for (int k = 0; k < m->n; k++)
        if (m->v[k] == v)
            return;
    m->v[m->n] = v;
    m->bytes[m->n] = bytes;
    m->write[m->n++] = (unsigned char)write;
}

static void chain_moved(const cq_exec *e, const cq_exec_chain *c, const cq__cost_kernel *kk,
                        int cold, moved *m)
{
    const cq_graph *g = cq_exec_graph(e);
    m->n = 0;
    for (int k = 0; k < c->n; k++) {
        const cq_node *n = &g->nodes[c->node[k]];
        for (int a = 0; a < n->n_inputs && a < CQ_OP_MAX_INPUTS; a++) {
            int v = n->inputs[a];
            if (v < 0 || made_in_chain(g, c, k, v) || c->in[k][a].ndim < 0)
                continue;
            int64_t b = tinfo_numel(&c->in[k][a]) * (int64_t)cq_dtype_info(c->in[k][a].dtype)->size;
            /* the packed weights of a bf16 kernel are bf16 */
            if (k == 0 && a == kk->weight_input && kk->weight_esize > 0)
                b = tinfo_numel(&c->in[k][a]) * kk->weight_esize;
            moved_add(m, v, b, 0);
        }
        for (int o = 0; o < n->n_outputs && o < CQ_OP_MAX_OUTPUTS; o++) {
            int v = n->outputs[o];
            if (v < 0 || !cq_exec_value_written(e, v) || c->out[k][o].ndim < 0)
                continue;
            int64_t b_out = tinfo_numel(&c->out[k][o]) *
                            (int64_t)cq_dtype_info(c->out[k][o].dtype)->size;
            moved_add(m, v, b_out,
                      cold && is_graph_output(g, v) && b_out >= FRESH_BYTES ? 2 : 1);
        }
    }
}

/* The ns t holds from the shared levels and DRAM. */
static double far_ns(const cq_hw *hw, const traffic *t)
{
    double f = 0;
    for (int l = 0; l <= hw->n_cache; l++)
        if (l == hw->n_cache || hw->cache[l].shared)
            f += t->ns[l];
    return f;
}

/* The memory term of one node: each tensor at the bandwidth of the level
 * the simulation puts it in; the tensors are then touched (reads first, in
 * input order, then the writes). Returns the ns of the whole; *far the part
 * from the shared levels and DRAM; *wv_dram the bytes value wv (the
 * weights of a kernel that streams them, kk->wline; -2: none) took from DRAM;
 * *level the level most bytes came from; *bytes the tensors' sum. */
static double node_memory(const cq_hw *hw, int tu, lru *s, const moved *m,
                          const cq__cost_kernel *kk, int wv, double *wv_dram, double *far,
                          int *level, int64_t *bytes)
{
    traffic t;
    memset(&t, 0, sizeof t);
    int64_t in_bytes = 0, total = 0;
    double streamed = 0; /* far ns of the streams kk->out_streams overlaps */
    double page_ns = cq_hw_call_ns(hw, "page");
    for (int k = 0; k < m->n; k++)
        if (!m->write[k])
            in_bytes += m->bytes[k];
    for (int k = 0; k < m->n; k++) {
        int64_t b = m->bytes[k];
        if (m->write[k] == 2 && page_ns > 0) {
            /* new pages: each first write a fault, the system zeroing the
             * page (the probe's call_ns.page, which holds both), then the
             * node's writes land where a write lands; the faults add to
             * the far part (they stop the thread) */
            serve(hw, tu, in_bytes, b, 1, &t);
            t.ns[hw->n_cache] += (double)((b + 4095) / 4096) * page_ns / tu;
        } else if (m->write[k] == 2)
            /* new pages, a profile without call_ns.page: the system
             * zero-fills them in memory (the second pass, in place of the
             * read for ownership), then the node writes them */
            serve(hw, tu, -1, b, 1, &t);
        else if (m->write[k]) {
            /* a write allocates: it lands above the node's inputs, spilling
             * past the levels they and it do not fit together */
            double f0 = far_ns(hw, &t);
            serve(hw, tu, in_bytes, b, 1, &t);
            if (kk->out_streams)
                streamed += far_ns(hw, &t) - f0;
        } else {
            double dram = t.bytes[hw->n_cache], f0 = far_ns(hw, &t);
            serve(hw, tu, lru_distance(s, m->v[k]), b, 0, &t);
            if (m->v[k] == wv)
                *wv_dram += t.bytes[hw->n_cache] - dram;
            if (kk->out_streams && m->v[k] == kk->res_value)
                streamed += far_ns(hw, &t) - f0;
        }
        total += b;
    }
    /* what the kernel's tiling moves beyond the tensors (an im2col matrix, an
     * operand re-read per tile pass) comes from the level its block fits in
     * (cost_kernel.c says which and how much) */
    if (kk->reread_bytes > 0) {
        int l = level_of(hw, tu, kk->reread_block);
        t.ns[l] += (double)kk->reread_bytes / level_bw(hw, l, tu);
        t.bytes[l] += (double)kk->reread_bytes;
    }
    for (int k = 0; k < m->n; k++)
        lru_touch(s, m->v[k], m->bytes[k]);
    int best = 0;
    double ns = 0;
    *far = 0;
    for (int l = 0; l <= hw->n_cache; l++) {
        if (t.bytes[l] > t.bytes[best])
            best = l;
        ns += t.ns[l];
        if (l == hw->n_cache || hw->cache[l].shared)
            *far += t.ns[l];
    }
    *far -= streamed;
    *level = best;
    *bytes = total;
    return ns;
}

/* ---- the model -------------------------------------------------------------- */

double cq__cost_eff(const cq_hw *hw, const char *name, const char *fallback)
{
    for (int k = 0; k < hw->n_eff; k++)
        if (!strcmp(hw->eff[k].name, name))
            return hw->eff[k].value;
    return fallback ? cq__cost_eff(hw, fallback, NULL) : 1.0;
}

static double mac_rate(const cq_hw *hw, cq_dtype p, int amx)
{
    int kind = p == CQ_BF16 ? CQ_HW_MAC_BF16 : p == CQ_U8 || p == CQ_S8 ? CQ_HW_MAC_S8 : -1;
    if (amx && kind >= 0 && hw->amx_macs[kind] > 0)
        return hw->amx_macs[kind];
    if (p == CQ_BF16)
        return hw->macs[CQ_HW_MAC_BF16] > 0 ? hw->macs[CQ_HW_MAC_BF16] : hw->macs[CQ_HW_MAC_F32];
    if (p == CQ_U8 || p == CQ_S8)
        return hw->macs[CQ_HW_MAC_S8] > 0 ? hw->macs[CQ_HW_MAC_S8] : hw->macs[CQ_HW_MAC_S8_NOVNNI];
    return hw->macs[CQ_HW_MAC_F32];
}

static double cvt_ns(const cq_hw *hw, int kind, int64_t elems, int tu)
{
    if (kind < 0 || elems <= 0)
        return 0;
    double rate = hw->cvt[kind] > 0 ? hw->cvt[kind] : 1.0;
    return (double)elems / (rate * hw->ghz * tu);
}

/* Compute and memory combined: the traffic of the private levels overlaps
 * the arithmetic (the probe's efficiency factors were measured with the
 * reference shapes' data in them), what comes from the shared levels and
 * DRAM adds to it; overlap 1 lets all of it overlap (the roofline max). */
static void finish_row(const cq_hw *hw, double overlap, double call_ns, cq_cost_row *r)
{
    r->overhead_ns = hw->node_ns + call_ns;
    double work = r->compute_ns + r->cvt_ns,
           near = r->memory_ns - r->memory_far_ns - r->memory_stream_ns;
    double split = fmax(fmax(work, near), r->memory_stream_ns) + r->memory_far_ns,
           roof = fmax(work, r->memory_ns);
    r->ns = overlap * roof + (1 - overlap) * split + r->overhead_ns;
    r->bound = work >= r->memory_ns ? CQ_COST_COMPUTE : CQ_COST_MEMORY;
    if (r->overhead_ns > fmax(work, r->memory_ns))
        r->bound = CQ_COST_OVERHEAD;
}

static int threads_used(const cq_hw *hw, const cq_cost_opts *o)
{
    int t = o->threads < 1 ? 1 : o->threads;
    return t < hw->cores ? t : hw->cores;
}

cq_status cq_cost_exec(const cq_exec *e, const cq_hw *hw, const cq_cost_opts *opts, cq_cost *out,
                       cq_err *err)
{
    memset(out, 0, sizeof *out);
    cq_cost_opts o = CQ_COST_OPTS_DEFAULT;
    if (opts)
        o = *opts;
    if (hw->cores < 1 || hw->ghz <= 0 || hw->macs[CQ_HW_MAC_F32] <= 0)
        return cq_errf(err, CQ_EINVAL, "cost: profile '%s' has no cores, clock or f32 MAC rate",
                       hw->name);
    if (!(o.overlap >= 0 && o.overlap <= 1))
        return cq_errf(err, CQ_EINVAL, "cost: overlap must be in [0, 1]");
    int tu = threads_used(hw, &o);
    const cq_graph *g = cq_exec_graph(e);
    int nn = g->n_nodes;
    /* the nodes fused into each node h, in graph order: fused[first[h] ..
     * first[h] + count[h]) */
    int *first = calloc((size_t)nn + 1, sizeof *first);
    int *count = calloc((size_t)nn + 1, sizeof *count);
    int *fused = malloc(((size_t)nn + 1) * sizeof *fused);
    int64_t accesses = 1;
    for (int j = 0; first && count && j < nn; j++) {
        int h = cq_exec_fused_into(e, j);
        if (h >= 0)
            count[h]++;
        accesses += 2 * ((int64_t)g->nodes[j].n_inputs + g->nodes[j].n_outputs);
    }
    cq_exec_chain *c = malloc(sizeof *c);
    moved *m = malloc(sizeof *m);
    cq_cost_row *rows = calloc((size_t)nn + 1, sizeof *rows);
    lru s;
    int lru_ok = lru_init(&s, g->n_values, accesses) == 0;
    if (!first || !count || !fused || !c || !m || !rows || !lru_ok) {
        free(first);
        free(count);
        free(fused);
        free(c);
        free(m);
        free(rows);
        lru_free(&s);
        return cq_errf(err, CQ_ENOMEM, "cost: out of memory");
    }
    for (int i = 1; i < nn; i++)
        first[i] = first[i - 1] + count[i - 1];
    memset(count, 0, (size_t)nn * sizeof *count);
    for (int j = 0; j < nn; j++) {
        int h = cq_exec_fused_into(e, j);
        if (h >= 0)
            fused[first[h] + count[h]++] = j;
    }
    cq_status st = CQ_OK;
    int nr = 0;
    /* run 0 (when warm) fills the caches; the last run is the one reported */
    for (int run = o.warm ? 0 : 1; run < 2 && st == CQ_OK; run++) {
        nr = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (count[i] > CQ_EXEC_CHAIN_MAX - 1) {
                st = cq_errf(err, CQ_EUNSUPPORTED, "cost: node %d '%s' (%s): %d nodes fused into it",
                             i, g->nodes[i].name, g->nodes[i].op_type, count[i]);
                break;
            }
            int rc = cq_exec_node_chain_of(e, i, fused + first[i], count[i], c);
            if (rc == -1)
                continue;
            if (rc == -2) {
                st = cq_errf(err, CQ_EINVAL,
                             "cost: node %d '%s' (%s): a shape is unknown (run the model once, or "
                             "give its inputs fixed shapes)",
                             i, g->nodes[i].name, g->nodes[i].op_type);
                break;
            }
            cq__cost_kernel kk;
            cq__cost_kernel_of(e, c, hw, tu, &kk);
            m->n = 0;
            chain_moved(e, c, &kk, !o.warm, m);
            cq_cost_row *r = &rows[nr++];
            memset(r, 0, sizeof *r);
            r->node = i;
            r->name = g->nodes[i].name;
            r->op = g->nodes[i].op_type;
            r->precision = kk.precision;
            r->kclass = kk.kclass;
            r->macs = kk.macs;
            r->tile_eff = kk.tile_eff;
            r->n_fused = c->n - 1;
            r->cvt_elems = kk.cvt_elems;
            r->level = hw->n_cache;
            if (cq_exec_is_joined(e, i)) {
                /* a join its producers wrote in place (CQ_FUSE_JOIN): the
                 * executor only passes it by; its output is where they just
                 * wrote, for the cache simulation */
                for (int k = 0; k < m->n; k++)
                    if (m->write[k])
                        lru_touch(&s, m->v[k], m->bytes[k]);
                r->level = 0;
                finish_row(hw, o.overlap, 0, r);
                continue;
            }
            int64_t bytes = 0;
            double far = 0;
            double w_dram = 0;
            const cq_node *hn = &g->nodes[c->node[0]];
            int wv = kk.wline && kk.weight_input >= 0 && kk.weight_input < hn->n_inputs
                         ? hn->inputs[kk.weight_input] : -2;
            double mem = node_memory(hw, tu, &s, m, &kk, wv, &w_dram, &far, &r->level, &bytes);
            r->bytes = bytes;
            double eff = cq__cost_eff(hw, kk.kclass, kk.fallback);
            if (eff <= 0)
                eff = 1.0;
            /* elementwise arithmetic: one vector operation a cycle; element
             * by element work: one element a cycle */
            int lanes = hw->vector_bits >= 128 ? hw->vector_bits / 32 : 4;
            r->compute_ns = (double)kk.flops / ((double)lanes * hw->ghz * tu) +
                            (double)kk.scalar_ops / (hw->ghz * tu) +
                            ((double)kk.copy_rows * cq_hw_call_ns(hw, "im2col_row") +
                             (double)kk.nchw_in * cq_hw_call_ns(hw, "bf16_nchw")) / tu;
            /* a pass of its own after the kernel's (kk.serial_unit): it adds
             * to whatever the kernel's arithmetic and traffic come to */
            double serial = 0;
            for (int u = 0; u < 4; u++)
                if (kk.unit[u] && kk.units[u] > 0) {
                    double t = (double)kk.units[u] * cq_hw_call_ns(hw, kk.unit[u]) / tu;
                    if (u == kk.serial_unit)
                        serial += t;
                    else
                        r->compute_ns += t;
                }
            if (kk.macs > 0) {
                double rate = mac_rate(hw, kk.precision, kk.amx) * eff * kk.tile_eff * hw->ghz * tu;
                r->compute_ns += (double)kk.macs / rate;
                r->memory_ns = mem;
                r->memory_far_ns = kk.streams ? 0 : far;
                double wl = kk.wline ? cq_hw_call_ns(hw, kk.wline) : 0;
                if (wl > 0 && !kk.streams && w_dram > 0) {
                    /* weights the kernel prefetches a panel ahead: their
                     * DRAM part at the kernel's stream rate (call_ns a line;
                     * the threads each stream a share, within DRAM's
                     * bandwidth), under the arithmetic rather than after it */
                    double dram_ns = w_dram / level_bw(hw, hw->n_cache, tu);
                    r->memory_stream_ns = fmax(w_dram / 64.0 * wl / tu, dram_ns);
                    r->memory_far_ns -= dram_ns;
                    r->memory_ns += r->memory_stream_ns - dram_ns;
                }
            } else {
                /* memory-bound ops reach eff of the bandwidth of the private
                 * levels (the probe's loop in L2: its own rate, not the
                 * level's); what comes from the shared levels and DRAM at
                 * their streaming bandwidth, which the loop outruns */
                r->memory_ns = (mem - far) / eff + far;
                r->memory_far_ns = far;
            }
            /* tile loads past L1 that feed the multiplies in order */
            if (o.memory && kk.tile_bytes > 0) {
                int l = level_of(hw, tu, kk.tile_block);
                if (l > 0)
                    r->compute_ns += (double)kk.tile_bytes / level_bw(hw, l, tu);
            }
            if (!o.memory) {
                r->memory_ns = r->memory_far_ns = 0;
                r->level = 0;
            }
            r->cvt_ns = cvt_ns(hw, kk.cvt_kind, kk.cvt_elems, tu);
            /* a kernel call's fixed cost: the class's, else its stand-in's */
            double call = kk.macs > 0 ? cq_hw_call_ns(hw, kk.kclass) : 0;
            if (kk.macs > 0 && call == 0 && kk.fallback)
                call = cq_hw_call_ns(hw, kk.fallback);
            /* one call; the grouped path's calls (a group each) shared by the threads */
            double calls = kk.calls > 1 ? (double)kk.calls / tu : 1;
            finish_row(hw, o.overlap, call * (calls > 1 ? calls : 1), r);
            if (kk.pass_bytes > 0) {
                /* the residual pass (kk.pass_bytes): memory-bound, at the
                 * eltwise efficiency in the private levels; the ablation
                 * (no memory estimator) leaves it out with the rest */
                int l = level_of(hw, tu, kk.pass_block);
                double bw = level_bw(hw, l, tu);
                if (l < hw->n_cache && !hw->cache[l].shared)
                    bw *= cq__cost_eff(hw, "eltwise", NULL);
                if (o.memory) {
                    r->memory_ns += (double)kk.pass_bytes / bw;
                    r->ns += (double)kk.pass_bytes / bw;
                }
            }
            r->compute_ns += serial;
            r->ns += serial;
        }
    }
    free(first);
    free(count);
    free(fused);
    free(c);
    free(m);
    lru_free(&s);
    if (st != CQ_OK) {
        free(rows);
        return st;
    }
    out->n = nr;
    out->rows = rows;
    for (int k = 0; k < nr; k++)
        out->total_ns += rows[k].ns;
    return CQ_OK;
}

void cq_cost_free(cq_cost *c)
{
    if (!c)
        return;
    free(c->rows);
    memset(c, 0, sizeof *c);
}

double cq_cost_convert_ns(const cq_hw *hw, cq_hw_cvt kind, int64_t elements, int threads)
{
    if (elements <= 0 || (int)kind < 0 || kind >= CQ_HW_CVT_COUNT)
        return 0;
    int tu = threads < 1 ? 1 : threads < hw->cores ? threads : hw->cores;
    /* bytes in and out: f32 one side, 8- or 16-bit codes the other */
    int64_t in_es = 4, out_es = 4;
    switch (kind) {
    case CQ_HW_CVT_QUANT: out_es = 1; break;
    case CQ_HW_CVT_DEQUANT: in_es = 1; break;
    case CQ_HW_CVT_REQUANT: in_es = out_es = 1; break;
    case CQ_HW_CVT_F32_BF16: out_es = 2; break;
    case CQ_HW_CVT_BF16_F32: in_es = 2; break;
    default: break;
    }
    int64_t bytes = elements * (in_es + out_es);
    int l = level_of(hw, tu, bytes);
    double mem = (double)bytes / (level_bw(hw, l, tu) * cq__cost_eff(hw, "eltwise", NULL));
    return fmax(cvt_ns(hw, kind, elements, tu), mem) + hw->node_ns;
}

int cq_cost_edge_cvt(cq_dtype from, cq_dtype to)
{
    int fi = from == CQ_U8 || from == CQ_S8, ti = to == CQ_U8 || to == CQ_S8;
    if (fi && !ti)
        return CQ_HW_CVT_DEQUANT;
    if (!fi && ti)
        return CQ_HW_CVT_QUANT;
    return -1;
}
