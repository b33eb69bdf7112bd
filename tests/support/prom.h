// A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every
// line must be a well-formed HELP, TYPE or sample line; label values and HELP texts may use
// only the format's escapes; a family's TYPE comes before its samples, which are contiguous;
// no series repeats; counters are named *_total and never negative; each histogram has
// cumulative buckets ending in le="+Inf" equal to its _count, and a _sum.
#ifndef EVREPL_TESTS_SUPPORT_PROM_H
#define EVREPL_TESTS_SUPPORT_PROM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct prom_sample {
    char *series; // name{k="v",...} exactly as written (labels in their order), or name
    char *name;
    double value;
} prom_sample;

typedef struct prom_doc {
    prom_sample *samples;
    size_t n;
    char error[256]; // why parsing failed, with the line number
} prom_doc;

// Parses text (NUL-terminated). Returns false with doc->error set when anything is off.
bool prom_parse(prom_doc *doc, const char *text);

// The value of a series written exactly as `series` (e.g. `evrepl_calls_total{method="x",
// code="OK"}` without spaces); false when absent.
bool prom_get(const prom_doc *doc, const char *series, double *value);

// The sum of every sample of a metric name (all label sets); 0 when none.
double prom_sum(const prom_doc *doc, const char *name);

void prom_free(prom_doc *doc);

// GETs http://127.0.0.1:port<path> (HTTP/1.1, Connection: close). Returns the status code (-1
// when the server cannot be reached), the body in *body (malloc'd, NUL-terminated; free it) and
// the Content-Type header in content_type (size bytes; "" when absent).
int prom_http_get(int port, const char *path, const char *method, char **body, char *content_type,
                  size_t size);

#endif // EVREPL_TESTS_SUPPORT_PROM_H
