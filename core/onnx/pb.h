/*
 * pb.h - protobuf wire format: a bounds-checked field reader and a growable
 * writer. No schema, no reflection: the ONNX reader (onnx_read.c) walks
 * fields by number and names them through a small table for its messages.
 *
 *     static const cq_pb_name node_names[] = {{1, "input"}, {4, "op_type"}, {0, NULL}};
 *     cq_pb r;
 *     cq_pb_init(&r, buf, len, "model.onnx", "NodeProto", node_names, &err);
 *     cq_pb_field f;
 *     int more;
 *     while ((more = cq_pb_next(&r, &f)) > 0)
 *         if (f.num == 4) op = cq_pb_strdup(&r, &f);  // checks the wire type
 *     if (more < 0) return err.code;                   // err names byte and field
 *
 * Errors read "model.onnx: byte 1234: NodeProto.attribute (field 5): length
 * 99999 runs past the end of the message (ends at 1300)". Offsets are from
 * the start of the buffer given to cq_pb_init. Nothing here allocates more
 * than the bytes it has seen justify.
 *
 *     cq_pb_buf w = {0};
 *     size_t at = cq_pb_begin(&w, 1);        // field 1, length-delimited
 *     cq_pb_put_string(&w, 4, "Relu");
 *     cq_pb_end(&w, at);                      // writes the length in place
 *     if (w.failed) ... ENOMEM;  free(w.data);
 */
#ifndef CQ_PB_H
#define CQ_PB_H

#include <stddef.h>
#include <stdint.h>
#include "base/status.h"

enum { CQ_PB_VARINT = 0, CQ_PB_I64 = 1, CQ_PB_LEN = 2, CQ_PB_I32 = 5 };

typedef struct cq_pb_name {
    uint32_t num;
    const char *name;
} cq_pb_name;

typedef struct cq_pb {
    const uint8_t *buf;     /* the whole buffer: offsets are relative to it */
    size_t pos, end;        /* cursor and end of the current message */
    const char *file;       /* for messages */
    const char *msg;        /* message name, e.g. "NodeProto" */
    const cq_pb_name *names;/* field names of msg, {0, NULL}-terminated (may be NULL) */
    cq_err *err;
    void *ud;               /* the caller's (NULL from cq_pb_init), passed to sub-readers */
} cq_pb;

typedef struct cq_pb_field {
    uint32_t num;
    int wire;
    size_t offset;          /* of the tag */
    uint64_t u;             /* VARINT, I64, I32 payload */
    const uint8_t *data;    /* LEN payload */
    size_t len;
    size_t data_offset;     /* of the LEN payload */
    size_t end;             /* offset just after the whole field */
} cq_pb_field;

/* A reader over buf[0, len). */
void cq_pb_init(cq_pb *r, const void *buf, size_t len, const char *file, const char *msg,
                const cq_pb_name *names, cq_err *err);
/* Reader over the LEN field f of r, as message msg. */
void cq_pb_sub(const cq_pb *r, const cq_pb_field *f, const char *msg, const cq_pb_name *names,
               cq_pb *sub);
/* Next field: 1 with *f filled, 0 at the end of the message, -1 on error
 * (EFORMAT in r->err: bad varint, unknown wire type, length past the end). */
int cq_pb_next(cq_pb *r, cq_pb_field *f);

/* Record an error at byte off about field f (f may be NULL); returns EFORMAT
 * or code. The message is "file: byte N: Msg.name (field k): ...". */
cq_status cq_pb_fail(const cq_pb *r, const cq_pb_field *f, cq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* EFORMAT unless f has wire type w. */
cq_status cq_pb_want(const cq_pb *r, const cq_pb_field *f, int wire);

/* Typed access, each checking the wire type (CQ_OK or EFORMAT / ENOMEM). */
cq_status cq_pb_int64(const cq_pb *r, const cq_pb_field *f, int64_t *out);
cq_status cq_pb_float(const cq_pb *r, const cq_pb_field *f, float *out);
/* malloc'd NUL-terminated copy of a LEN field; NULL on error (see r->err). */
char *cq_pb_strdup(const cq_pb *r, const cq_pb_field *f);
/* Replace *s by a copy of f (a repeated-last-wins string field). */
cq_status cq_pb_set_string(const cq_pb *r, const cq_pb_field *f, char **s);

/* Repeated scalars, packed (LEN) or not: append the values of f to the
 * growable array *a (count *n, capacity *cap). Allocation grows with the
 * bytes read, never with a declared count. */
cq_status cq_pb_append_int64(const cq_pb *r, const cq_pb_field *f, int64_t **a, int64_t *n,
                             int64_t *cap);
cq_status cq_pb_append_float(const cq_pb *r, const cq_pb_field *f, float **a, int64_t *n,
                             int64_t *cap);

/* ---- writer ------------------------------------------------------------ */

typedef struct cq_pb_buf {
    uint8_t *data;
    size_t len, cap;
    int failed;             /* an allocation failed: data is incomplete */
} cq_pb_buf;

void cq_pb_put_raw(cq_pb_buf *b, const void *p, size_t n);
void cq_pb_put_varint(cq_pb_buf *b, uint64_t v);
void cq_pb_put_tag(cq_pb_buf *b, uint32_t num, int wire);
void cq_pb_put_int(cq_pb_buf *b, uint32_t num, int64_t v);      /* VARINT field */
void cq_pb_put_float(cq_pb_buf *b, uint32_t num, float v);      /* I32 field */
void cq_pb_put_bytes(cq_pb_buf *b, uint32_t num, const void *p, size_t n);
void cq_pb_put_string(cq_pb_buf *b, uint32_t num, const char *s); /* NULL writes nothing */
/* Packed repeated fields (nothing written when n is 0). */
void cq_pb_put_packed_int(cq_pb_buf *b, uint32_t num, const int64_t *v, int64_t n);
void cq_pb_put_packed_float(cq_pb_buf *b, uint32_t num, const float *v, int64_t n);
/* Nested message: begin writes the tag and returns a mark; end moves the
 * payload to make room for its length varint. */
size_t cq_pb_begin(cq_pb_buf *b, uint32_t num);
void cq_pb_end(cq_pb_buf *b, size_t mark);

#endif
