/* probe_avx512.c - the AVX-512 instruction chains and the streaming read of
 * probe.h (built with the AVX-512 flags; called only where the CPU has them). */
#include <immintrin.h>

#include "cost/probe_internal.h"

/* rounds x 24 independent instructions into zmm0-23 from the zero operands
 * zmm24, zmm25. */
#define X24(op)                                                                               \
    op " %%zmm25, %%zmm24, %%zmm0\n\t" op " %%zmm25, %%zmm24, %%zmm1\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm2\n\t" op " %%zmm25, %%zmm24, %%zmm3\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm4\n\t" op " %%zmm25, %%zmm24, %%zmm5\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm6\n\t" op " %%zmm25, %%zmm24, %%zmm7\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm8\n\t" op " %%zmm25, %%zmm24, %%zmm9\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm10\n\t" op " %%zmm25, %%zmm24, %%zmm11\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm12\n\t" op " %%zmm25, %%zmm24, %%zmm13\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm14\n\t" op " %%zmm25, %%zmm24, %%zmm15\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm16\n\t" op " %%zmm25, %%zmm24, %%zmm17\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm18\n\t" op " %%zmm25, %%zmm24, %%zmm19\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm20\n\t" op " %%zmm25, %%zmm24, %%zmm21\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm22\n\t" op " %%zmm25, %%zmm24, %%zmm23\n\t"
#define CLOBBER26                                                                             \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",     \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19",        \
        "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25"
#define CHAIN(name, op)                                                                       \
    double name(long rounds)                                                                  \
    {                                                                                         \
        long n = rounds;                                                                      \
        double t0 = cq_probe_now();                                                           \
        __asm__ volatile("vpxord %%zmm24, %%zmm24, %%zmm24\n\t"                                 \
                         "vpxord %%zmm25, %%zmm25, %%zmm25\n\t" X24("vpxord")                   \
                         "1:\n\t" X24(op) "dec %0\n\t"                                          \
                         "jnz 1b\n\t"                                                          \
                         : "+r"(n)                                                            \
                         :                                                                    \
                         : CLOBBER26, "cc");                                                  \
        return cq_probe_now() - t0;                                                           \
    }
CHAIN(cq__probe_fma_f32, "vfmadd231ps")
CHAIN(cq__probe_dot_bf16, "vdpbf16ps")
CHAIN(cq__probe_dot_s8, "vpdpbusd")

/* s8 without VNNI, as a kernel without vpdpbusd multiplies u8 by s8: pairs
 * into s16 (vpmaddubsw), pairs of those into s32 against ones (vpmaddwd), the
 * add into the accumulator. 8 independent sequences (zmm0-7 accumulate, zmm8-15
 * the temporaries), 64 MACs each. */
#define NV(i, t)                                                                              \
    "vpmaddubsw %%zmm25, %%zmm24, %%zmm" t "\n\t"                                              \
    "vpmaddwd %%zmm26, %%zmm" t ", %%zmm" t "\n\t"                                             \
    "vpaddd %%zmm" t ", %%zmm" i ", %%zmm" i "\n\t"
double cq__probe_s8_novnni(long rounds)
{
    long n = rounds;
    double t0 = cq_probe_now();
    __asm__ volatile("vpxord %%zmm24, %%zmm24, %%zmm24\n\t"
                     "vpxord %%zmm25, %%zmm25, %%zmm25\n\t"
                     "vpternlogd $0xff, %%zmm26, %%zmm26, %%zmm26\n\t"
                     "vpsrlw $15, %%zmm26, %%zmm26\n\t" /* s16 ones */
                     X24("vpxord")
                     "1:\n\t" NV("0", "8") NV("1", "9") NV("2", "10") NV("3", "11")
                     NV("4", "12") NV("5", "13") NV("6", "14") NV("7", "15")
                     NV("16", "8") NV("17", "9") NV("18", "10") NV("19", "11")
                     "dec %0\n\t"
                     "jnz 1b\n\t"
                     : "+r"(n)
                     :
                     : CLOBBER26, "xmm26", "cc");
    return cq_probe_now() - t0;
}

/* Stream buf[0, bytes) passes times: 8 loads of 64 bytes a step into 8
 * independent xor accumulators. Returns seconds. Not instrumented under
 * AddressSanitizer: its shadow checks would be what is measured (the reads
 * stay inside the caller's buffer by construction). */
__attribute__((no_sanitize_address)) double cq__probe_read_avx512(const void *buf, size_t bytes, long passes)
{
    const __m512i *p = buf;
    size_t n = bytes / 64;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0;
    double t0 = cq_probe_now();
    for (long r = 0; r < passes; r++) {
        for (size_t i = 0; i + 8 <= n; i += 8) {
            a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
            a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 1));
            a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 2));
            a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 3));
            a4 = _mm512_xor_si512(a4, _mm512_load_si512(p + i + 4));
            a5 = _mm512_xor_si512(a5, _mm512_load_si512(p + i + 5));
            a6 = _mm512_xor_si512(a6, _mm512_load_si512(p + i + 6));
            a7 = _mm512_xor_si512(a7, _mm512_load_si512(p + i + 7));
        }
        /* keep the sums live so that no pass is dropped */
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3));
        __asm__ volatile("" : "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7));
    }
    double t = cq_probe_now() - t0;
    a0 = _mm512_xor_si512(_mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)),
                          _mm512_xor_si512(_mm512_xor_si512(a4, a5), _mm512_xor_si512(a6, a7)));
    cq__probe_sink ^= (uint64_t)_mm512_reduce_add_epi64(a0);
    return t;
}
