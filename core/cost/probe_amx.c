/* probe_amx.c - the AMX chains of probe.h (built with the AMX flags; called
 * only where cq_kern_amx() says the CPU and the OS allow the tiles). Four
 * independent accumulators (tiles 0-3) from zero tiles 4-7, 16 rows of 64
 * bytes each: a tdpbusd is 16 x 16 x 64 MACs, a tdpbf16ps 16 x 16 x 32. */
#include <immintrin.h>

#include "cost/probe_internal.h"

typedef struct tile_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

static void config(tile_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->palette = 1;
    for (int t = 0; t < 8; t++) {
        c->colsb[t] = 64;
        c->rows[t] = 16;
    }
    _tile_loadconfig(c);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    _tile_zero(7);
}

double cq__probe_amx_s8(long rounds)
{
    tile_cfg c;
    config(&c);
    double t0 = cq_probe_now();
    for (long i = 0; i < rounds; i++) {
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    double t = cq_probe_now() - t0;
    _tile_release();
    return t;
}

double cq__probe_amx_bf16(long rounds)
{
    tile_cfg c;
    config(&c);
    double t0 = cq_probe_now();
    for (long i = 0; i < rounds; i++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    double t = cq_probe_now() - t0;
    _tile_release();
    return t;
}

double cq__probe_amx_cfg_pair(long rounds)
{
    tile_cfg c;
    config(&c);
    _tile_release();
    double t0 = cq_probe_now();
    for (long i = 0; i < rounds; i++) {
        _tile_loadconfig(&c);
        _tile_release();
    }
    return cq_probe_now() - t0;
}
