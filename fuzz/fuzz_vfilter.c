/*
 * fuzz_vfilter.c -- libFuzzer target: the filter-expression compiler and
 * evaluator, and the attribute JSON checker, over arbitrary bytes.
 *
 * The input is split at its first 0x00 byte: the part before is the
 * expression, the part after the attributes.  Beyond "no crash, no leak,
 * no undefined behaviour": a failed compile returns OMEN_INVALID and no
 * filter; a compiled filter gives 0 or 1 on any attribute text; JSON the
 * checker accepts starts with '{'.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "omendb.h"
#include "vector/vfilter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *z = memchr(data, 0, size);
    size_t elen = z ? (size_t)(z - data) : size;
    char *expr = malloc(elen + 1);
    memcpy(expr, data, elen);
    expr[elen] = 0;
    const char *json = z ? (const char *)z + 1 : "";
    size_t jlen = z ? size - elen - 1 : 0;
    vfilter *f = NULL;
    int rc = vfilter_compile(expr, &f);
    if (rc != OMEN_OK && (rc != OMEN_INVALID || f)) abort();
    if (f) {
        int m = vfilter_match(f, json, jlen);
        if (m != 0 && m != 1) abort();
        if (vfilter_match(f, NULL, 0) > 1) abort();
        vfilter_free(f);
    }
    if (vfilter_json_check(json, jlen) == OMEN_OK) {
        size_t i = 0;
        while (i < jlen && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) i++;
        if (i >= jlen || json[i] != '{') abort();
    }
    free(expr);
    return 0;
}
