/*
 * kern_qgemm_internal.h - what the int8 GEMM's files share: the plan, its
 * blocking, and the per-ISA block kernels (x86/kern_qgemm_avx512.c,
 * x86/kern_qgemm_avx2.c). Not a public header.
 */
#ifndef CQ_KERN_QGEMM_INTERNAL_H
#define CQ_KERN_QGEMM_INTERNAL_H

#include "kern/kern_qgemm.h"

/* Blocking: a unit of work is MC rows x NC columns of y; inside it k runs in
 * blocks of at most KC_MAX (a multiple of 4) so that a register tile's
 * weights stay in L1 while the rows of x come from L2 (bench/NOTES.md, "int8
 * GEMM", the sizes tried). */
#ifndef CQ__QG_MC
#define CQ__QG_MC 96
#endif
#ifndef CQ__QG_NC
#define CQ__QG_NC 256
#endif
#ifndef CQ__QG_KC_MAX
#define CQ__QG_KC_MAX 640
#endif

/* A QLinearAdd after the product, folded into the AVX-512 epilogue (the
 * int8 convolution sets it: kern_qconv.c): the sums to the conv's own code q
 * (float scale, zero point q_zp, clamp q_min..q_max), then y =
 * round_sat(fmaf(res, ra, fmaf(q, rb, fixed))) (res_first; else q and res
 * trade places), res of y's dtype; the same float operations as
 * cq__qconv_res_rows, so the bits agree. */
typedef struct cq__qgemm_add {
    int on, res_first;
    int32_t q_zp, q_min, q_max;
    float ra, rb, fixed;
} cq__qgemm_add;

struct cq_qgemm_plan {
    cq_qgemm_params p;  /* ldx, ldy resolved */
    cq_isa isa;
    int amx;            /* AVX-512 with AMX tiles (x86/kern_qgemm_amx.c) */
    int64_t kp;         /* k padded to the packing's group (4 or 2) */
    int64_t np;         /* n padded to the panel width (64 or 16) */
    int64_t kc;         /* k block (a multiple of 4), nk blocks */
    int64_t nk;
    int8_t *w;          /* (n, k) copy: the scalar path */
    int32_t *bias;      /* n or NULL (the scalar path) */
    void *wp;           /* packed weights (fast paths) */
    int32_t *comp;      /* np: bias[j] - c * sum_t w[t][j], c = x_zp (+ 128 for s8) */
    float *mult;        /* np (FLOAT) */
    int32_t *qmult, *shift; /* np (FIXED) */
    cq__qgemm_add add;  /* off unless the int8 convolution folds its Add in */
};

/* The epilogue of row i, columns [j0, j0 + nc), from acc (nc sums that
 * include bias and compensation), into y with res (may be NULL) as the
 * header says: the one scalar definition, used by the reference and the
 * AVX2 path. mult / qmult / shift are indexed by column. */
void cq__qgemm_epi_row(const cq_qgemm_params *p, const float *mult, const int32_t *qmult,
                       const int32_t *shift, int64_t i, int64_t j0, int64_t nc,
                       const int32_t *acc, const void *res, void *y);

/* Rows of x read in place, not copied: an implicit GEMM's (kern_qconv.c).
 * A unit's rows come in runs; run q's row r (unit row i + r) has its k-th
 * byte, k in segment s = k / seg, at a + r lda + off[s] + k % seg. u8 x, k
 * and seg multiples of 4, no AMX (cq__qgemm_avx512_runs_ok). */
#define CQ__QG_VIEW_SEGS 7
typedef struct cq__qg_run {
    const uint8_t *a;
    int64_t lda;
    const int64_t *off; /* nseg offsets */
    int64_t i, rows;
} cq__qg_run;
int cq__qgemm_avx512_runs_ok(const cq_qgemm_plan *pl, int64_t seg, int nseg);
/* A unit as cq__qgemm_avx512_unit's over the nrun runs (rows 0 .. at most
 * CQ__QG_MC of y, res and scratch's partial sums), each k block and panel
 * over all of them, so the block's weights stay in L1 from run to run. */
void cq__qgemm_avx512_unit_runs(const cq_qgemm_plan *pl, const cq__qg_run *runs, int nrun,
                                int64_t seg, void *y, const void *res, int64_t j0, int64_t j1,
                                void *scratch);

/* Packing: w (n, k) into wp (np * kp bytes for AVX-512, np * kp * 2 for
 * AVX2). One unit, rows [i0, i1) and columns [j0, j1) of y (j0 a multiple of the
 * panel width), with scratch holding cq__qgemm_*_scratch bytes. */
size_t cq__qgemm_avx512_scratch(const cq_qgemm_plan *pl);
void cq__qgemm_avx512_pack(const cq_qgemm_plan *pl, const int8_t *w_nk, void *wp);
void cq__qgemm_avx512_unit(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                           int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch);
/* The AVX-512 epilogue (comp added) of rows x nc sums acc (row stride lda)
 * into y rows [i, i + rows), columns [j, j + nc): what the AMX path runs
 * after storing its tiles. */
void cq__qgemm_avx512_epi(const cq_qgemm_plan *pl, const int32_t *acc, int64_t lda, int rows,
                          int64_t i, int64_t j, int64_t nc, const void *res, void *y);
/* AMX (pl->amx): w packed as [np / 16][kp / 4][16][4], kp a multiple of 64,
 * so the tile of 16 columns and 64 k is 1 KiB in a row; kc a multiple of
 * 64. Same unit contract as the AVX-512 one. */
#ifndef CQ__QG_KC_AMX
#define CQ__QG_KC_AMX 1024
#endif
/* Fewer rows run VNNI: one row uses 1/16 of a tile (m = 1, n = k = 1024:
 * AMX 185 GOP/s, VNNI 257; m = 2 about even; bench/NOTES.md). */
#ifndef CQ__QG_AMX_MIN_M
#define CQ__QG_AMX_MIN_M 2
#endif
/* So does k of 16 or less: the tiles pad k to 64 (1x1 16 > 64 on 112 x 112:
 * AMX 0.24 ms, VNNI 0.18; bench/NOTES.md, "int8 convolution"). */
#ifndef CQ__QG_AMX_MIN_K
#define CQ__QG_AMX_MIN_K 17
#endif
size_t cq__qgemm_amx_scratch(const cq_qgemm_plan *pl);
void cq__qgemm_amx_pack(const cq_qgemm_plan *pl, const int8_t *w_nk, void *wp);
void cq__qgemm_amx_unit(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                        int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch);
size_t cq__qgemm_avx2_scratch(const cq_qgemm_plan *pl);
void cq__qgemm_avx2_pack(const cq_qgemm_plan *pl, const int8_t *w_nk, void *wp);
void cq__qgemm_avx2_unit(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                         int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch);

/* One unit, rows [i0, i1) (at most CQ__QG_MC) and columns [j0, j1) (j0 a
 * multiple of CQ__QG_NC, at most CQ__QG_NC of them) of y = epilogue(x . w),
 * x, y and res addressed as the plan's ldx, ldy say from row 0, through the
 * same per-ISA dispatch as cq_qgemm_run (not the scalar ISA); scratch holds
 * cq__qgemm_unit_scratch bytes, 64-aligned. The int8 convolutions run their
 * row blocks (kern_qconv.c) through it. */
size_t cq__qgemm_unit_scratch(const cq_qgemm_plan *pl);
void cq__qgemm_unit(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                    int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch);
/* Fold an Add into the plan's epilogue: 1 where the plan runs AVX-512 (VNNI
 * or AMX) with a u8 / s8 output and a float scale; else 0 and the plan is
 * unchanged (the caller takes s32 sums and adds itself). */
int cq__qgemm_fold_add(cq_qgemm_plan *pl, const cq__qgemm_add *add);

#endif
