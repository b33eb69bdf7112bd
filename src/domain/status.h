// Internal status helpers: keep a code and its sentence together.
//
// Thread safety: pure; safe from any thread.
#ifndef EVREPL_DOMAIN_STATUS_H
#define EVREPL_DOMAIN_STATUS_H

#include <stddef.h>

#include "evrepl/status.h"

// Sets st (if not NULL) to code and the formatted sentence (truncated to fit), returns code.
// Use as `return evri_status_set(st, EVREPL_CODE_NOT_FOUND, "event %s not found", id);`.
evrepl_code evri_status_set(evrepl_status *st, evrepl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Resets st (if not NULL) to OK with an empty message; returns EVREPL_CODE_OK.
evrepl_code evri_status_ok(evrepl_status *st);

// Copies src into st (both may be NULL); returns src's code (OK when src is NULL).
evrepl_code evri_status_copy(evrepl_status *st, const evrepl_status *src);

// Writes a printable, length-bounded rendering of untrusted text into out (size > 4): ASCII
// 0x20..0x7e kept, everything else as \xNN, cut with "..." past out_size. For echoing caller
// input (method names, ids) in status messages and logs without breaking UTF-8 or terminals.
void evri_quote_untrusted(char *out, size_t out_size, const char *in, size_t in_len);

#endif // EVREPL_DOMAIN_STATUS_H
