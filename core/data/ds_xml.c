/* ds_xml.c - the expat driver shared by the XML readers (dlib imglab, Pascal VOC).
 * The file is fed in 64 KiB chunks; errors carry file:line:column (expat counts
 * lines from 1 and columns from 0; we print columns from 1). */
#include "data/data_internal.h"

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct cq__xml {
    XML_Parser p;
    const cq__xml_handlers *h;
    const char *path;
    cq_err *err;
    cq_status st;
};

void *cq__xml_ud(cq__xml *x)
{
    return x->h->ud;
}

void cq__xml_fail(cq__xml *x, cq_status code, const char *fmt, ...)
{
    if (x->st)
        return; /* keep the first problem */
    char msg[CQ_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    x->st = cq_errf(x->err, code, "%s:%lu:%lu: %s", x->path,
                    (unsigned long)XML_GetCurrentLineNumber(x->p),
                    (unsigned long)XML_GetCurrentColumnNumber(x->p) + 1, msg);
    XML_StopParser(x->p, XML_FALSE);
}

const char *cq__xml_attr(const char **attrs, const char *name)
{
    for (; attrs && attrs[0]; attrs += 2)
        if (strcmp(attrs[0], name) == 0)
            return attrs[1];
    return NULL;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    cq__xml *x = ud;
    if (!x->st && x->h->start)
        x->h->start(x, name, attrs);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    cq__xml *x = ud;
    if (!x->st && x->h->end)
        x->h->end(x, name);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    cq__xml *x = ud;
    if (!x->st && x->h->text)
        x->h->text(x, s, len);
}

cq_status cq__xml_parse_file(const char *path, const cq__xml_handlers *h, cq_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cq_errf(err, CQ_EIO, "%s: %s", path, strerror(errno));
    cq__xml x = {XML_ParserCreate(NULL), h, path, err, CQ_OK};
    if (!x.p) {
        fclose(f);
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory for the XML parser", path);
    }
    XML_SetUserData(x.p, &x);
    XML_SetElementHandler(x.p, on_start, on_end);
    XML_SetCharacterDataHandler(x.p, on_text);
    char buf[1 << 16];
    for (;;) {
        size_t n = fread(buf, 1, sizeof buf, f);
        if (ferror(f)) {
            x.st = cq_errf(err, CQ_EIO, "%s: read error", path);
            break;
        }
        int final = n < sizeof buf;
        if (XML_Parse(x.p, buf, (int)n, final) == XML_STATUS_ERROR) {
            if (!x.st) {
                enum XML_Error e = XML_GetErrorCode(x.p);
                x.st = cq_errf(err, CQ_EFORMAT, "%s:%lu:%lu: XML error: %s%s", path,
                               (unsigned long)XML_GetCurrentLineNumber(x.p),
                               (unsigned long)XML_GetCurrentColumnNumber(x.p) + 1,
                               XML_ErrorString(e),
                               e == XML_ERROR_NO_ELEMENTS ? " (the file ends before the root element closes)"
                               : e == XML_ERROR_TAG_MISMATCH ? " (expected the closing tag of the open element)"
                               : "");
            }
            break;
        }
        if (x.st || final)
            break;
    }
    XML_ParserFree(x.p);
    fclose(f);
    return x.st;
}
