#include "common/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "domain/status.h"

struct evri_log {
    FILE *f;
    evri_log_format format;
    evri_log_level min_level;
    pthread_mutex_t mu;       // one whole line per write
    pthread_key_t request_id; // per thread: the request id of the call it runs (borrowed)
};

// Fields of one line at most, beyond which the thread's request id is not added (no line has
// that many).
#define LOG_MAX_FIELDS 32

static const char *const level_names[] = {"debug", "info", "warn", "error"};

evri_log *
evri_log_create(FILE *f, evri_log_format format, evri_log_level min_level)
{
    evri_log *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return NULL;
    }
    l->f = f;
    l->format = format;
    l->min_level = min_level;
    if (pthread_key_create(&l->request_id, NULL) != 0) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void
evri_log_destroy(evri_log *l)
{
    if (l == NULL) {
        return;
    }
    pthread_mutex_destroy(&l->mu);
    pthread_key_delete(l->request_id);
    free(l);
}

void
evri_log_set_request_id(evri_log *l, const char *request_id)
{
    if (l == NULL) {
        return;
    }
    (void)pthread_setspecific(l->request_id, request_id); // fails only for an invalid key
}

bool
evri_log_enabled(const evri_log *l, evri_log_level level)
{
    return l != NULL && level >= l->min_level;
}

static void
log_write(evri_log *l, const char *line, size_t len)
{
    pthread_mutex_lock(&l->mu);
    // A log sink that fails (closed stderr) must not take the server down with it.
    (void)fwrite(line, 1, len, l->f);
    (void)fflush(l->f);
    pthread_mutex_unlock(&l->mu);
}

// Text values: bare when they are plain tokens, else double-quoted with escapes.
static size_t
text_value(char *out, size_t size, const char *s)
{
    size_t len = strlen(s);
    bool plain = len > 0 && len <= 200;
    for (size_t i = 0; plain && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        plain = c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';
    }
    if (plain) {
        return (size_t)snprintf(out, size, "%s", s);
    }
    char q[512];
    evri_quote_untrusted(q, sizeof(q), s, len);
    // Escape double quotes too, so a value cannot fake a field.
    size_t o = 0;
    if (size < 3) {
        return 0;
    }
    out[o++] = '"';
    for (size_t i = 0; q[i] != '\0' && o + 5 < size; i++) {
        if (q[i] == '"') {
            memcpy(out + o, "\\x22", 4);
            o += 4;
        } else {
            out[o++] = q[i];
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

static void
log_text(evri_log *l, evri_log_level level, const char *msg, const evri_log_field *fields, size_t n)
{
    char line[4096];
    char ts[32];
    size_t o;
    evri_timestamp_format(evri_wallclock(), ts);
    o = (size_t)snprintf(line, sizeof(line), "%s %s %s", ts, level_names[level], msg);
    for (size_t i = 0; i < n && o < sizeof(line) - 2; i++) {
        const evri_log_field *f = &fields[i];
        size_t left = sizeof(line) - o;
        int w = 0;
        switch (f->type) {
        case EVRI_LF_STR:
            w = snprintf(line + o, left, " %s=", f->key);
            if (w > 0 && (size_t)w < left) {
                o += (size_t)w;
                w = (int)text_value(line + o, sizeof(line) - o, f->v.s != NULL ? f->v.s : "");
            }
            break;
        case EVRI_LF_INT:
            w = snprintf(line + o, left, " %s=%" PRId64, f->key, f->v.i);
            break;
        case EVRI_LF_UINT:
            w = snprintf(line + o, left, " %s=%" PRIu64, f->key, f->v.u);
            break;
        case EVRI_LF_BOOL:
            w = snprintf(line + o, left, " %s=%s", f->key, f->v.b ? "true" : "false");
            break;
        }
        if (w < 0) {
            break;
        }
        o += (size_t)w;
    }
    if (o > sizeof(line) - 2) {
        o = sizeof(line) - 2;
    }
    line[o++] = '\n';
    log_write(l, line, o);
}

static void
log_json(evri_log *l, evri_log_level level, const char *msg, const evri_log_field *fields, size_t n)
{
    char ts[32];
    json_object *o = json_object_new_object();
    if (o == NULL) {
        return;
    }
    evri_timestamp_format(evri_wallclock(), ts);
    json_object_object_add(o, "ts", json_object_new_string(ts));
    json_object_object_add(o, "level", json_object_new_string(level_names[level]));
    json_object_object_add(o, "msg", json_object_new_string(msg));
    for (size_t i = 0; i < n; i++) {
        const evri_log_field *f = &fields[i];
        json_object *v = NULL;
        switch (f->type) {
        case EVRI_LF_STR: {
            // json-c escapes control characters; bytes that are not UTF-8 are replaced so
            // the line stays valid JSON for any consumer.
            char q[1024];
            const char *s = f->v.s != NULL ? f->v.s : "";
            evri_quote_untrusted(q, sizeof(q), s, strlen(s));
            v = json_object_new_string(q);
            break;
        }
        case EVRI_LF_INT:
            v = json_object_new_int64(f->v.i);
            break;
        case EVRI_LF_UINT:
            v = json_object_new_uint64(f->v.u);
            break;
        case EVRI_LF_BOOL:
            v = json_object_new_boolean(f->v.b);
            break;
        }
        json_object_object_add(o, f->key, v);
    }
    size_t len = 0;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    if (s != NULL) {
        char line[8192];
        if (len > sizeof(line) - 1) {
            len = sizeof(line) - 1; // cannot happen: fields are bounded
        }
        memcpy(line, s, len);
        line[len++] = '\n';
        log_write(l, line, len);
    }
    json_object_put(o);
}

void
evri_log_fields(evri_log *l, evri_log_level level, const char *msg, const evri_log_field *fields,
                size_t n_fields)
{
    if (!evri_log_enabled(l, level)) {
        return;
    }
    // The calling thread's request id, unless the line names one itself.
    const char *rid = pthread_getspecific(l->request_id);
    for (size_t i = 0; rid != NULL && i < n_fields; i++) {
        if (strcmp(fields[i].key, "request_id") == 0) {
            rid = NULL;
        }
    }
    evri_log_field with_rid[LOG_MAX_FIELDS + 1];
    if (rid != NULL && n_fields <= LOG_MAX_FIELDS) {
        if (n_fields > 0) {
            memcpy(with_rid, fields, n_fields * sizeof(*fields));
        }
        with_rid[n_fields++] = evri_lf_str("request_id", rid);
        fields = with_rid;
    }
    if (l->format == EVRI_LOG_JSON) {
        log_json(l, level, msg, fields, n_fields);
    } else {
        log_text(l, level, msg, fields, n_fields);
    }
}

void
evri_logf(evri_log *l, evri_log_level level, const char *fmt, ...)
{
    if (!evri_log_enabled(l, level)) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); // truncation is fine for a log line
    va_end(ap);
    evri_log_fields(l, level, msg, NULL, 0);
}

bool
evri_log_level_parse(const char *s, evri_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (evri_log_level)i;
            return true;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = EVRI_LOG_WARN;
        return true;
    }
    return false;
}

bool
evri_log_format_parse(const char *s, evri_log_format *out)
{
    if (strcmp(s, "text") == 0) {
        *out = EVRI_LOG_TEXT;
        return true;
    }
    if (strcmp(s, "json") == 0) {
        *out = EVRI_LOG_JSON;
        return true;
    }
    return false;
}
