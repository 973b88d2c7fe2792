/* kern_convpm_pack_avx512.c - the pixel-major GEMM's W^T, packed once at
 * plan time in the order kern_convpm_avx512.c's loops read it (panel width
 * and k blocks from cq__convpm_pack_pw and cq__convpm_pack_kc). */
#include <stdint.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "kern/kern_internal.h"

/* W (c_out, K) -> wp: k blocks of kc rows (the last may be shorter), each
 * block a run of channel panels (rows, pw), zeros past c_out. The slices are
 * stored in the order the non-pointwise loops read them (k block, then
 * channel panel), so W^T streams from memory in one sequential pass; with
 * kc = K this is panels of (K, pw). */
void cq__convpm_pack_w(const cq_conv2d_params *p, const float *w, float *wp)
{
    if (cq__convpl_applies(p)) {
        cq__convpl_pack_w(p, w, wp);
        return;
    }
    int64_t k = p->c_in * p->kh * p->kw, c_out = p->c_out, pw = cq__convpm_pack_pw(p);
    int64_t npad = (c_out + pw - 1) / pw * pw, kc0 = cq__convpm_pack_kc(p);
#if defined(MADV_HUGEPAGE) && !defined(CQ_NO_HUGEPAGE)
    /* Before the first touch: the whole 2 MB pages inside wp as huge pages
     * (where the kernel allows it; advice only), so a layer's weights stream
     * from memory without a TLB miss and a prefetcher restart per 4 KB. */
    {
        uintptr_t a = ((uintptr_t)wp + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
        uintptr_t e = ((uintptr_t)(wp + npad * k)) & ~(uintptr_t)((2u << 20) - 1);
        if (e > a)
            (void)madvise((void *)a, (size_t)(e - a), MADV_HUGEPAGE);
    }
#endif
    int64_t khw = p->kh * p->kw;
    for (int64_t k0 = 0; k0 < k; k0 += kc0) {
        int64_t kc = k - k0 < kc0 ? k - k0 : kc0;
        for (int64_t j0 = 0; j0 < npad; j0 += pw)
            for (int64_t t = 0; t < kc; t++) {
                /* W's column: K in (c, ky, kx) order; on NCHW16c input the
                 * rows go (c / 16, ky, kx, c % 16), so that 16 steps in a
                 * row read one 64-byte line per pixel */
                int64_t kt = k0 + t, r = kt % (16 * khw);
                int64_t col = p->x_blocked ? (kt - r + r % 16 * khw + r / 16) : kt;
                for (int64_t c = 0; c < pw; c++)
                    wp[k0 * npad + j0 * kc + t * pw + c] =
                        j0 + c < c_out ? w[(j0 + c) * k + col] : 0.0f;
            }
    }
}
