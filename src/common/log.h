// Structured log lines, as text (key=value) or JSON (one object per line).
//
// A logger is created by the server and handed down; there is no global logger.
// Thread safety: evri_log_* may be called from any thread; each line is written whole.
#ifndef EVREPL_COMMON_LOG_H
#define EVREPL_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evrepl/status.h"

typedef enum evri_log_level {
    EVRI_LOG_DEBUG = 0,
    EVRI_LOG_INFO = 1,
    EVRI_LOG_WARN = 2,
    EVRI_LOG_ERROR = 3,
} evri_log_level;

typedef enum evri_log_format {
    EVRI_LOG_TEXT = 0,
    EVRI_LOG_JSON = 1,
} evri_log_format;

typedef enum evri_log_type {
    EVRI_LF_STR,
    EVRI_LF_INT,
    EVRI_LF_UINT,
    EVRI_LF_BOOL,
} evri_log_type;

// One key/value of a log line. Strings are untrusted: the logger escapes them.
typedef struct evri_log_field {
    const char *key;
    evri_log_type type;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        bool b;
    } v;
} evri_log_field;

static inline evri_log_field
evri_lf_str(const char *key, const char *s)
{
    return (evri_log_field){.key = key, .type = EVRI_LF_STR, .v.s = s};
}

static inline evri_log_field
evri_lf_int(const char *key, int64_t i)
{
    return (evri_log_field){.key = key, .type = EVRI_LF_INT, .v.i = i};
}

static inline evri_log_field
evri_lf_uint(const char *key, uint64_t u)
{
    return (evri_log_field){.key = key, .type = EVRI_LF_UINT, .v.u = u};
}

static inline evri_log_field
evri_lf_bool(const char *key, bool b)
{
    return (evri_log_field){.key = key, .type = EVRI_LF_BOOL, .v.b = b};
}

typedef struct evri_log evri_log;

// Creates a logger writing to f (not closed by the logger). Returns NULL when out of memory.
evri_log *evri_log_create(FILE *f, evri_log_format format, evri_log_level min_level);

// Destroys a logger. Accepts NULL.
void evri_log_destroy(evri_log *l);

// True when lines of this level are written (callers may skip building fields).
bool evri_log_enabled(const evri_log *l, evri_log_level level);

// Writes one line: time, level, msg, then the fields in order, then request_id when the
// calling thread has one set (below) and the fields hold none. l may be NULL (no-op).
void evri_log_fields(evri_log *l, evri_log_level level, const char *msg,
                     const evri_log_field *fields, size_t n_fields);

// Writes one line whose message is formatted (trusted format, untrusted args are escaped as a
// whole in JSON; in text the message is written as is: pass no untrusted text here).
void evri_logf(evri_log *l, evri_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Sets the request id of the call that the calling thread is running (NULL clears it): until
// cleared, every line this thread writes through l carries it as request_id, so that what a
// backend logs during a call names the call (a mapped diagnostic context, per logger and
// thread). The rpc layer sets it around each handler. The string is borrowed until cleared.
// l may be NULL (no-op).
void evri_log_set_request_id(evri_log *l, const char *request_id);

// Parses "debug", "info", "warn", "error" / "text", "json". Returns false for anything else.
bool evri_log_level_parse(const char *s, evri_log_level *out);
bool evri_log_format_parse(const char *s, evri_log_format *out);

#endif // EVREPL_COMMON_LOG_H
