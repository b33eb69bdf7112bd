#include "support/prom.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_FAMILIES 128

typedef struct family {
    char name[128];
    char type[16]; // "" until its TYPE line
    bool help;
    bool closed; // another family's samples came after its own
} family;

typedef struct parser {
    prom_doc *doc;
    family fams[MAX_FAMILIES];
    size_t n_fams;
    family *current; // the family of the last sample
    int line;
} parser;

static bool fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
fail(parser *p, const char *fmt, ...)
{
    va_list ap;
    int o = snprintf(p->doc->error, sizeof(p->doc->error), "line %d: ", p->line);
    va_start(ap, fmt);
    vsnprintf(p->doc->error + o, sizeof(p->doc->error) - (size_t)o, fmt, ap);
    va_end(ap);
    return false;
}

static bool
name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

// Reads a metric name at *s into out; false when there is none.
static bool
read_name(const char **s, char *out, size_t size, bool colon_ok)
{
    size_t n = 0;
    while (name_char((*s)[n], n == 0) && (colon_ok || (*s)[n] != ':')) {
        if (n + 1 >= size) {
            return false;
        }
        out[n] = (*s)[n];
        n++;
    }
    out[n] = '\0';
    *s += n;
    return n > 0;
}

static family *
family_of(parser *p, const char *name, bool create)
{
    for (size_t i = 0; i < p->n_fams; i++) {
        if (strcmp(p->fams[i].name, name) == 0) {
            return &p->fams[i];
        }
    }
    if (!create || p->n_fams == MAX_FAMILIES) {
        return NULL;
    }
    family *f = &p->fams[p->n_fams++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    return f;
}

// The family a sample name belongs to: itself, or a histogram/summary base for the suffixes.
static family *
sample_family(parser *p, const char *name)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t k = 0; k < 3; k++) {
        size_t ln = strlen(name), ls = strlen(suffixes[k]);
        if (ln > ls && strcmp(name + ln - ls, suffixes[k]) == 0) {
            char base[128];
            snprintf(base, sizeof(base), "%.*s", (int)(ln - ls), name);
            family *f = family_of(p, base, false);
            if (f != NULL &&
                (strcmp(f->type, "histogram") == 0 || strcmp(f->type, "summary") == 0)) {
                return f;
            }
        }
    }
    return family_of(p, name, false);
}

static bool
parse_value(const char *s, double *v)
{
    if (strcmp(s, "+Inf") == 0) {
        *v = INFINITY;
        return true;
    }
    if (strcmp(s, "-Inf") == 0) {
        *v = -INFINITY;
        return true;
    }
    if (strcmp(s, "NaN") == 0) {
        *v = NAN;
        return true;
    }
    char *end = NULL;
    if (s[0] == '\0' || s[0] == ' ') {
        return false;
    }
    *v = strtod(s, &end);
    return *end == '\0';
}

// A HELP text or label value: only \\, \n (and \" in labels) escapes; no raw newline.
static bool
check_escapes(const char *s, size_t len, bool in_label)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\') {
            if (i + 1 >= len) {
                return false;
            }
            char e = s[++i];
            if (e != '\\' && e != 'n' && !(in_label && e == '"')) {
                return false;
            }
        }
    }
    return true;
}

static bool
comment_line(parser *p, const char *s)
{
    char name[128];
    if (strncmp(s, "# HELP ", 7) == 0) {
        s += 7;
        if (!read_name(&s, name, sizeof(name), true) || *s != ' ') {
            return fail(p, "HELP without a metric name and text");
        }
        if (!check_escapes(s + 1, strlen(s + 1), false)) {
            return fail(p, "HELP text of %s has a bad escape", name);
        }
        family *f = family_of(p, name, true);
        if (f == NULL || f->help) {
            return fail(p, "second HELP for %s", name);
        }
        f->help = true;
        return true;
    }
    if (strncmp(s, "# TYPE ", 7) == 0) {
        s += 7;
        if (!read_name(&s, name, sizeof(name), true) || *s != ' ') {
            return fail(p, "TYPE without a metric name and type");
        }
        s++;
        if (strcmp(s, "counter") != 0 && strcmp(s, "gauge") != 0 && strcmp(s, "histogram") != 0 &&
            strcmp(s, "summary") != 0 && strcmp(s, "untyped") != 0) {
            return fail(p, "unknown type '%s'", s);
        }
        family *f = family_of(p, name, true);
        if (f == NULL || f->type[0] != '\0') {
            return fail(p, "second TYPE for %s", name);
        }
        for (size_t i = 0; i < p->doc->n; i++) {
            if (strcmp(p->doc->samples[i].name, name) == 0) {
                return fail(p, "TYPE of %s after its samples", name);
            }
        }
        snprintf(f->type, sizeof(f->type), "%s", s);
        if (strcmp(s, "counter") == 0 &&
            (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total") != 0)) {
            return fail(p, "counter %s is not named *_total", name);
        }
        return true;
    }
    return true; // other comments are allowed
}

static bool
sample_line(parser *p, const char *line)
{
    const char *s = line;
    char name[128];
    if (!read_name(&s, name, sizeof(name), true)) {
        return fail(p, "a sample must start with a metric name");
    }
    char labelnames[16][64];
    size_t n_labels = 0;
    if (*s == '{') {
        s++;
        while (*s != '}') {
            char lname[64];
            if (!read_name(&s, lname, sizeof(lname), false) || strncmp(lname, "__", 2) == 0) {
                return fail(p, "bad label name in %s", name);
            }
            for (size_t k = 0; k < n_labels; k++) {
                if (strcmp(labelnames[k], lname) == 0) {
                    return fail(p, "label %s twice in %s", lname, name);
                }
            }
            if (n_labels == 16) {
                return fail(p, "too many labels");
            }
            snprintf(labelnames[n_labels++], sizeof(labelnames[0]), "%s", lname);
            if (s[0] != '=' || s[1] != '"') {
                return fail(p, "label %s of %s: want =\"value\"", lname, name);
            }
            s += 2;
            const char *v = s;
            while (*s != '"' && *s != '\0') {
                s += *s == '\\' && s[1] != '\0' ? 2 : 1;
            }
            if (*s != '"' || !check_escapes(v, (size_t)(s - v), true)) {
                return fail(p, "label %s of %s: unterminated or bad escape", lname, name);
            }
            s++;
            if (*s == ',') {
                s++;
            } else if (*s != '}') {
                return fail(p, "labels of %s: want , or }", name);
            }
        }
        s++;
    }
    size_t series_len = (size_t)(s - line);
    if (*s != ' ') {
        return fail(p, "sample %s: want one space before the value", name);
    }
    s++;
    char value_text[64];
    const char *sp = strchr(s, ' ');
    size_t vl = sp != NULL ? (size_t)(sp - s) : strlen(s);
    if (vl == 0 || vl >= sizeof(value_text)) {
        return fail(p, "sample %s: no value", name);
    }
    memcpy(value_text, s, vl);
    value_text[vl] = '\0';
    double v;
    if (!parse_value(value_text, &v)) {
        return fail(p, "sample %s: '%s' is not a number", name, value_text);
    }
    if (sp != NULL) { // a timestamp: an integer of ms
        char *end = NULL;
        (void)strtoll(sp + 1, &end, 10);
        if (sp[1] == '\0' || *end != '\0') {
            return fail(p, "sample %s: bad timestamp", name);
        }
    }
    family *f = sample_family(p, name);
    if (f == NULL || f->type[0] == '\0') {
        return fail(p, "sample %s before its TYPE", name);
    }
    if (f->closed) {
        return fail(p, "samples of %s are not contiguous", f->name);
    }
    if (p->current != NULL && p->current != f) {
        p->current->closed = true;
    }
    p->current = f;
    if (strcmp(f->type, "counter") == 0 && !(v >= 0)) {
        return fail(p, "counter %s is negative or NaN", name);
    }
    char *series = strndup(line, series_len);
    for (size_t i = 0; i < p->doc->n; i++) {
        if (strcmp(p->doc->samples[i].series, series) == 0) {
            free(series);
            return fail(p, "series repeated: %.*s", (int)series_len, line);
        }
    }
    prom_sample *grown = realloc(p->doc->samples, (p->doc->n + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(series);
        return fail(p, "out of memory");
    }
    p->doc->samples = grown;
    grown[p->doc->n++] = (prom_sample){.series = series, .name = strdup(name), .value = v};
    return true;
}

// The value of label key in a series text, copied to out; false when absent.
static bool
label_of(const char *series, const char *key, char *out, size_t size)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "%s=\"", key);
    const char *b = strchr(series, '{');
    for (const char *s = b; s != NULL && (s = strstr(s, pat)) != NULL; s++) {
        if (s[-1] == '{' || s[-1] == ',') {
            s += strlen(pat);
            size_t n = 0;
            while (s[n] != '"' && n + 1 < size) {
                out[n] = s[n];
                n++;
            }
            out[n] = '\0';
            return true;
        }
    }
    return false;
}

// The series text without its le label (the histogram's per-series key).
static void
without_le(const char *series, char *out, size_t size)
{
    const char *le = strstr(series, "le=\"");
    if (le == NULL) {
        snprintf(out, size, "%s", series);
        return;
    }
    const char *end = strchr(le + 4, '"') + 1;
    size_t head = (size_t)(le - series);
    if (*end == ',') {
        end++;
    } else if (head > 0 && series[head - 1] == ',') {
        head--;
    }
    snprintf(out, size, "%.*s%s", (int)head, series, end);
}

static bool
check_histograms(parser *p)
{
    p->line = 0;
    for (size_t fi = 0; fi < p->n_fams; fi++) {
        family *f = &p->fams[fi];
        if (strcmp(f->type, "histogram") != 0) {
            continue;
        }
        char bucket[160], sum[160], count[160];
        snprintf(bucket, sizeof(bucket), "%s_bucket", f->name);
        snprintf(sum, sizeof(sum), "%s_sum", f->name);
        snprintf(count, sizeof(count), "%s_count", f->name);
        for (size_t i = 0; i < p->doc->n; i++) {
            const prom_sample *c = &p->doc->samples[i];
            if (strcmp(c->name, count) != 0) {
                continue;
            }
            // count{labels}: find its buckets (same labels plus le) in order, and its sum.
            const char *labels = c->series + strlen(count);
            double prev = -1, inf = -1;
            size_t n_buckets = 0;
            for (size_t k = 0; k < p->doc->n; k++) {
                const prom_sample *b = &p->doc->samples[k];
                char key[512], le[32];
                if (strcmp(b->name, bucket) != 0) {
                    continue;
                }
                without_le(b->series + strlen(bucket), key, sizeof(key));
                if (strcmp(key, labels) != 0 && !(strcmp(key, "{}") == 0 && labels[0] == '\0')) {
                    continue;
                }
                if (!label_of(b->series, "le", le, sizeof(le))) {
                    return fail(p, "%s without le", b->series);
                }
                if (b->value < prev) {
                    return fail(p, "%s: buckets are not cumulative", b->series);
                }
                prev = b->value;
                n_buckets++;
                if (strcmp(le, "+Inf") == 0) {
                    inf = b->value;
                }
            }
            if (n_buckets == 0 || inf < 0) {
                return fail(p, "%s has no le=\"+Inf\" bucket", c->series);
            }
            if (inf != c->value) {
                return fail(p, "%s: +Inf bucket %g != count %g", c->series, inf, c->value);
            }
            char sum_series[512];
            snprintf(sum_series, sizeof(sum_series), "%s%s", sum, labels);
            double sv;
            if (!prom_get(p->doc, sum_series, &sv)) {
                return fail(p, "%s has no _sum", c->series);
            }
        }
    }
    return true;
}

bool
prom_parse(prom_doc *doc, const char *text)
{
    parser p = {.doc = doc};
    memset(doc, 0, sizeof(*doc));
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n') {
        return fail(&p, "the text does not end with a newline");
    }
    const char *s = text;
    while (*s != '\0') {
        const char *nl = strchr(s, '\n');
        char line[4096];
        size_t n = (size_t)(nl - s);
        p.line++;
        if (n >= sizeof(line)) {
            return fail(&p, "line too long");
        }
        memcpy(line, s, n);
        line[n] = '\0';
        s = nl + 1;
        if (n == 0) {
            continue; // blank lines are allowed
        }
        if (strchr(line, '\r') != NULL) {
            return fail(&p, "carriage return");
        }
        bool ok = line[0] == '#' ? comment_line(&p, line) : sample_line(&p, line);
        if (!ok) {
            return false;
        }
    }
    return check_histograms(&p);
}

bool
prom_get(const prom_doc *doc, const char *series, double *value)
{
    for (size_t i = 0; i < doc->n; i++) {
        if (strcmp(doc->samples[i].series, series) == 0) {
            *value = doc->samples[i].value;
            return true;
        }
    }
    return false;
}

double
prom_sum(const prom_doc *doc, const char *name)
{
    double sum = 0;
    for (size_t i = 0; i < doc->n; i++) {
        if (strcmp(doc->samples[i].name, name) == 0) {
            sum += doc->samples[i].value;
        }
    }
    return sum;
}

void
prom_free(prom_doc *doc)
{
    for (size_t i = 0; i < doc->n; i++) {
        free(doc->samples[i].series);
        free(doc->samples[i].name);
    }
    free(doc->samples);
    doc->samples = NULL;
    doc->n = 0;
}

int
prom_http_get(int port, const char *path, const char *method, char **body, char *content_type,
              size_t size)
{
    *body = NULL;
    content_type[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", method,
                     path, port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
        if (got <= 0) {
            break;
        }
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    int status = -1;
    char *hdr_end = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1 || hdr_end == NULL) {
        free(buf);
        return -1;
    }
    *hdr_end = '\0';
    for (char *line = strstr(buf, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Type: ", 14) == 0) {
            char *end = strstr(line + 2, "\r\n");
            size_t vl = end != NULL ? (size_t)(end - (line + 16)) : strlen(line + 16);
            snprintf(content_type, size, "%.*s", (int)vl, line + 16);
        }
    }
    *body = strdup(hdr_end + 4);
    free(buf);
    return status;
}
