#include "domain/strv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
evri_strdup(const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (d != NULL) {
        memcpy(d, s, len);
    }
    return d;
}

static bool
strv_append_owned(char ***v, size_t *n, char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL) {
        return false;
    }
    nv[*n] = s;
    *v = nv;
    (*n)++;
    return true;
}

bool
evri_strv_push(char ***v, size_t *n, const char *s)
{
    char *d = evri_strdup(s != NULL ? s : "");
    if (d == NULL) {
        return false;
    }
    if (!strv_append_owned(v, n, d)) {
        free(d);
        return false;
    }
    return true;
}

bool
evri_strv_pushf(char ***v, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0) {
        return false;
    }
    char *d = malloc((size_t)len + 1);
    if (d == NULL) {
        return false;
    }
    va_start(ap, fmt);
    (void)vsnprintf(d, (size_t)len + 1, fmt, ap); // sized by the first pass
    va_end(ap);
    if (!strv_append_owned(v, n, d)) {
        free(d);
        return false;
    }
    return true;
}

void
evri_strv_free(char ***v, size_t *n)
{
    if (*v != NULL) {
        for (size_t i = 0; i < *n; i++) {
            free((*v)[i]);
        }
        free(*v);
    }
    *v = NULL;
    *n = 0;
}

bool
evri_strv_copy(char ***dst, size_t *dst_n, char *const *src, size_t src_n)
{
    char **v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < src_n; i++) {
        if (!evri_strv_push(&v, &n, src[i])) {
            evri_strv_free(&v, &n);
            return false;
        }
    }
    *dst = v;
    *dst_n = n;
    return true;
}
