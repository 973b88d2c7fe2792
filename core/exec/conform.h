/*
 * conform.h - run one ONNX backend test folder (model.onnx and
 * test_data_set_N/{input,output}_K.pb) and compare calq's outputs with the
 * expected ones (|got - want| <= atol + rtol * |want|, NaN matches NaN,
 * integers exactly).
 *
 *     cq_conform_result r;
 *     cq_conform_case("/usr/share/libonnx-testdata/data/node/test_relu", 1e-4, 1e-5, &r);
 *     printf("%s %s\n", cq_conform_verdict_name(r.verdict), r.msg);
 *
 * A case is SKIP when calq lacks an operator (r.msg lists them) or a dtype the
 * model or its data use ("dtype DOUBLE"); FAIL when anything else goes wrong
 * (r.msg says what and where). Never fails itself: everything lands in r.
 */
#ifndef CQ_CONFORM_H
#define CQ_CONFORM_H

#include "base/status.h"

typedef enum { CQ_CONFORM_PASS = 0, CQ_CONFORM_FAIL, CQ_CONFORM_SKIP } cq_conform_verdict;

typedef struct cq_conform_result {
    cq_conform_verdict verdict;
    int sets;              /* test_data_set_* folders run */
    double max_abs_diff;   /* over every output compared */
    char msg[CQ_ERR_MSG_MAX];
} cq_conform_result;

void cq_conform_case(const char *dir, double rtol, double atol, cq_conform_result *r);
const char *cq_conform_verdict_name(cq_conform_verdict v); /* "pass", "fail", "skip" */

#endif
