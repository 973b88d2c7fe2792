/* json_skip.c - see data_internal.h. One pass, no allocation: the kind of each
 * open container (array or object) is one bit of a 64-bit stack.
 *
 * The grammar checked is yajl's (RFC 8259 without comments): a number is
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, a string holds bytes
 * 0x20..0x7e except '"' and '\' plus the escapes \" \\ \/ \b \f \n \r \t
 * \uXXXX, white space is space, tab, CR, LF. A number or literal that
 * touches the end of the buffer may continue, so it answers MORE. */
#include "data/data_internal.h"

#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10;
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (unsigned)((c | 0x20) - 'a') < 6;
}

/* p at the opening quote; returns one past the closing quote, or NULL with
 * *r set (MORE or UNSURE). */
static const unsigned char *string_end(const unsigned char *p, const unsigned char *e, int *r)
{
    for (p++;;) {
        while (p < e && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        if (p == e)
            break;
        if (*p == '"')
            return p + 1;
        if (*p != '\\') {
            *r = CQ__JSKIP_UNSURE;
            return NULL;
        }
        if (e - p < 2)
            break;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            continue;
        case 'u':
            for (int k = 2; k < 6; k++) {
                if (p + k == e) {
                    *r = CQ__JSKIP_MORE;
                    return NULL;
                }
                if (!is_hex(p[k])) {
                    *r = CQ__JSKIP_UNSURE;
                    return NULL;
                }
            }
            p += 6;
            continue;
        default:
            *r = CQ__JSKIP_UNSURE;
            return NULL;
        }
    }
    *r = CQ__JSKIP_MORE;
    return NULL;
}

/* p at '-' or a digit; returns one past the number, or NULL with *r set. */
static const unsigned char *number_end(const unsigned char *p, const unsigned char *e, int *r)
{
    *r = CQ__JSKIP_UNSURE;
    if (*p == '-' && ++p == e)
        goto more;
    if (*p == '0') {
        p++;
    } else if (is_digit(*p)) {
        while (++p < e && is_digit(*p))
            ;
    } else {
        return NULL;
    }
    if (p < e && *p == '.') {
        if (++p == e)
            goto more;
        if (!is_digit(*p))
            return NULL;
        while (++p < e && is_digit(*p))
            ;
    }
    if (p < e && (*p | 0x20) == 'e') {
        if (++p == e)
            goto more;
        if ((*p == '+' || *p == '-') && ++p == e)
            goto more;
        if (!is_digit(*p))
            return NULL;
        while (++p < e && is_digit(*p))
            ;
    }
    if (p == e)
        goto more;
    return p;
more:
    *r = CQ__JSKIP_MORE;
    return NULL;
}

#if defined(__SSE2__) && defined(__GNUC__)
/* Runs of numbers without white space ("473.07,395.93,..." as in COCO
 * polygons and RLE counts), 16 bytes at a time. p is at the first digit of
 * a number in an array and at least 16 bytes remain. Each block starts at a
 * number and is checked up to its last comma c such that block[c + 1] is
 * still digits/'.'/',': only those three kinds of byte, no two separators
 * side by side (so every number starts and ends with a digit), at most one
 * '.' per number, no leading zero ("01"). Returns the start of the number
 * after the last comma so checked (the scalar code goes on from there), or
 * p when no block passed; a failing block is simply left to the scalar code,
 * which finds the error. */
static const unsigned char *numbers_fast(const unsigned char *p, const unsigned char *e)
{
    const __m128i comma = _mm_set1_epi8(','), dot = _mm_set1_epi8('.'), zero = _mm_set1_epi8('0');
    const __m128i lo = _mm_set1_epi8('0' - 1), hi = _mm_set1_epi8('9' + 1);
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned C = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma));
        unsigned D = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, dot));
        unsigned Z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
        unsigned G = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi)));
        unsigned in = C | D | G, S = C | D;
        unsigned bad = ~in & 0xffffu;
        unsigned upto = bad ? (1u << __builtin_ctz(bad)) - 1 : 0xffffu; /* bytes before the first other one */
        unsigned ok = C & (upto >> 1); /* commas followed by an in-set byte */
        if (!ok)
            break;
        unsigned last = 31u - (unsigned)__builtin_clz(ok);
        unsigned m = (2u << last) - 1; /* bytes 0..last */
        unsigned starts = ((C << 1) | 1u) & m & (upto >> 0);
        if (!(G & 1u) || (S & (S >> 1) & (m >> 1)) || (starts & Z & (G >> 1)))
            break;
        /* a dot's previous separator must be a comma (or the block start) */
        for (unsigned d = D & m; d; d &= d - 1) {
            unsigned below = S & ((d & -d) - 1);
            if (below && (D >> (31u - (unsigned)__builtin_clz(below)) & 1u))
                return p;
        }
        p += last + 1;
    }
    return p;
}
#endif

static const unsigned char *literal_end(const unsigned char *p, const unsigned char *e, int *r)
{
    const char *w = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
    for (; *w; w++, p++) {
        if (p == e) {
            *r = CQ__JSKIP_MORE;
            return NULL;
        }
        if (*p != (unsigned char)*w) {
            *r = CQ__JSKIP_UNSURE;
            return NULL;
        }
    }
    return p;
}

#define WS()                          \
    do {                              \
        while (p < e && is_ws(*p))    \
            p++;                      \
        if (p == e)                   \
            return CQ__JSKIP_MORE;    \
    } while (0)

int cq__json_skip(const char *s, size_t n, size_t *end)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    uint64_t objs = 0; /* bit d - 1: the container at depth d is an object */
    int d = 0, r = CQ__JSKIP_UNSURE, fast = 1;
    if (n == 0 || (*p != '[' && *p != '{'))
        return CQ__JSKIP_UNSURE;
open: /* *p is '[' or '{' */
    if (d == 64)
        return CQ__JSKIP_UNSURE;
    if (*p == '{')
        objs |= (uint64_t)1 << d;
    else
        objs &= ~((uint64_t)1 << d);
    d++;
    p++;
    fast = 1;
    WS();
    if (*p == (objs >> (d - 1) & 1 ? '}' : ']')) {
        p++;
        goto closed;
    }
    if (objs >> (d - 1) & 1)
        goto key;
value:
#if defined(__SSE2__) && defined(__GNUC__)
    if (fast && is_digit(*p) && !(objs >> (d - 1) & 1) && e - p >= 16) {
        const unsigned char *q = numbers_fast(p, e);
        if (q == p) /* "1, 2" or the end of the array: not again in this one */
            fast = 0;
        p = q;
    }
#endif
    switch (*p) {
    case '[':
    case '{':
        goto open;
    case '"':
        p = string_end(p, e, &r);
        break;
    case 't':
    case 'f':
    case 'n':
        p = literal_end(p, e, &r);
        break;
    default:
        p = *p == '-' || is_digit(*p) ? number_end(p, e, &r) : NULL;
        break;
    }
    if (!p)
        return r;
after: /* a value at depth d is done */
    WS();
    if (*p == ',') {
        p++;
        WS();
        if (objs >> (d - 1) & 1)
            goto key;
        goto value;
    }
    if (*p != (objs >> (d - 1) & 1 ? '}' : ']'))
        return CQ__JSKIP_UNSURE;
    p++;
closed:
    if (--d == 0) {
        *end = (size_t)(p - (const unsigned char *)s);
        return CQ__JSKIP_DONE;
    }
    goto after;
key:
    if (*p != '"')
        return CQ__JSKIP_UNSURE;
    if (!(p = string_end(p, e, &r)))
        return r;
    WS();
    if (*p != ':')
        return CQ__JSKIP_UNSURE;
    p++;
    WS();
    goto value;
}
