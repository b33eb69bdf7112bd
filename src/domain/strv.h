// Heap string and string-vector helpers used to fill the domain structs.
//
// Thread safety: pure; safe from any thread.
#ifndef EVREPL_DOMAIN_STRV_H
#define EVREPL_DOMAIN_STRV_H

#include <stdbool.h>
#include <stddef.h>

// strdup that accepts NULL (returns NULL) and reports allocation failure as NULL.
char *evri_strdup(const char *s);

// Appends a copy of s to the vector *v of *n strings. Returns false (vector unchanged) when
// memory runs out.
bool evri_strv_push(char ***v, size_t *n, const char *s);

// Appends a formatted string. Returns false (vector unchanged) when memory runs out.
bool evri_strv_pushf(char ***v, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Frees every string and the vector, then sets *v = NULL and *n = 0. Accepts NULL vectors.
void evri_strv_free(char ***v, size_t *n);

// Copies a vector (deep). Returns false on allocation failure (nothing allocated).
bool evri_strv_copy(char ***dst, size_t *dst_n, char *const *src, size_t src_n);

#endif // EVREPL_DOMAIN_STRV_H
