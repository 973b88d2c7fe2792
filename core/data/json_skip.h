/* json_skip.h - find the end of a JSON array or object without parsing it.
 *
 * A reader that streams JSON through a callback parser (yajl) pays one
 * callback per token even for values it throws away; COCO's "segmentation"
 * polygons are most of the file. cq__json_skip walks such a value byte by
 * byte (runs of numbers without white space 16 bytes at a time where SSE2
 * is there), checking the grammar (brackets, commas, colons, strings and
 * their escapes, numbers, true/false/null), and says where it ends. It is
 * deliberately conservative: whatever it is not sure yajl would accept
 * (control or non-ASCII bytes in strings, \f or \v as white space, nesting
 * deeper than 64, any syntax error) is answered CQ__JSKIP_UNSURE, and the
 * caller hands that value to the real parser, which then reports the error
 * with its own message and place. So skipping never changes what is
 * accepted nor the text of an error.
 *
 *     size_t end;
 *     if (cq__json_skip(p, n, &end) == CQ__JSKIP_DONE)
 *         p += end;    // the value was p[0 .. end), valid JSON
 */
#ifndef CQ_JSON_SKIP_H
#define CQ_JSON_SKIP_H

#include <stddef.h>

enum {
    CQ__JSKIP_DONE,   /* the value ends at *end (one past its closing bracket) */
    CQ__JSKIP_MORE,   /* valid so far, but s[0..n) ends inside the value */
    CQ__JSKIP_UNSURE, /* not checked here: let the real parser read it */
};

/* s[0] must be '[' or '{' (else UNSURE). *end is set only on DONE. */
int cq__json_skip(const char *s, size_t n, size_t *end);

#endif
