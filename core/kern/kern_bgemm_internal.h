/*
 * kern_bgemm_internal.h - what the bf16 GEMM's files share: the plan, its
 * blocking and the AVX512-BF16 block kernel (x86/kern_bgemm_avx512.c). Not a
 * public header.
 */
#ifndef CQ_KERN_BGEMM_INTERNAL_H
#define CQ_KERN_BGEMM_INTERNAL_H

#include "kern/kern_bgemm.h"

/* Blocking: a unit of work is MC rows x NC columns of y; inside it k runs in
 * blocks of at most KC_MAX (a multiple of 32) so that a 64-column panel's
 * slice (KC_MAX / 2 pairs x 64 x 4 bytes) stays in L1 while the tiles of
 * the unit's rows go by (bench/NOTES.md, "bf16 GEMM"). */
#ifndef CQ__BG_MC
#define CQ__BG_MC 96
#endif
#ifndef CQ__BG_NC
#define CQ__BG_NC 256
#endif
#ifndef CQ__BG_KC_MAX
#define CQ__BG_KC_MAX 256
#endif

struct cq_bgemm_plan {
    cq_bgemm_params p;  /* ldx, ldy resolved */
    int native;         /* AVX512-BF16: the vdpbf16ps path, or AMX */
    int amx;            /* AMX-BF16 tiles (x86/kern_bgemm_amx.c) */
    int64_t kp;         /* k padded to pairs */
    int64_t np;         /* n padded to 64 */
    int64_t kc, nk;     /* k block (a multiple of 32), number of blocks */
    float *w;           /* fallback: (n, k), bf16-rounded */
    float *bias;        /* np entries, zeros past n and without a bias */
    uint16_t *wp;       /* native: [np / 64][kp / 2][64][2] bf16; amx: [np / 16][k / 32][16][16][2]
                         * (k rounded up to 32) */
};

/* The AVX512-BF16 path (call only where cq_bgemm_native()). */
void cq__bgemm_avx512_pack(const cq_bgemm_plan *pl, const float *w_nk, uint16_t *wp);
size_t cq__bgemm_avx512_scratch(const cq_bgemm_plan *pl);
/* Rows [i0, i1), columns [j0, j1) (j0 a multiple of 64) of y. */
void cq__bgemm_avx512_unit(const cq_bgemm_plan *pl, const float *x, float *y, const float *res,
                           int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch);
/* Whether the CPU has AVX512-BF16 (kern_bgemm_avx512.c asks it). */
int cq__bf16_cpu(void);
/* kl values of row x rounded into d (kc bf16, a multiple of 32), zeros
 * after (x86/kern_bgemm_avx512.c). */
void cq__bgemm_cvt_row(const float *x, int64_t kl, int64_t kc, uint16_t *d);
/* AMX-BF16 (pl->amx; where cq__amx_bf16(), x86/kern_convpm_bf16_amx.c): the
 * same unit contract. */
int cq__amx_bf16(void);
void cq__bgemm_amx_pack(const cq_bgemm_plan *pl, const float *w_nk, uint16_t *wp);
size_t cq__bgemm_amx_scratch(const cq_bgemm_plan *pl);
void cq__bgemm_amx_unit(const cq_bgemm_plan *pl, const float *x, float *y, const float *res,
                        int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch);

#endif
