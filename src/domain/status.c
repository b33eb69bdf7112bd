#include "domain/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(EVREPL_CODE_OK == 0, "gRPC numbering");
_Static_assert(EVREPL_CODE_INVALID_ARGUMENT == 3, "gRPC numbering");
_Static_assert(EVREPL_CODE_DEADLINE_EXCEEDED == 4, "gRPC numbering");
_Static_assert(EVREPL_CODE_NOT_FOUND == 5, "gRPC numbering");
_Static_assert(EVREPL_CODE_PERMISSION_DENIED == 7, "gRPC numbering");
_Static_assert(EVREPL_CODE_RESOURCE_EXHAUSTED == 8, "gRPC numbering");
_Static_assert(EVREPL_CODE_FAILED_PRECONDITION == 9, "gRPC numbering");
_Static_assert(EVREPL_CODE_UNIMPLEMENTED == 12, "gRPC numbering");
_Static_assert(EVREPL_CODE_INTERNAL == 13, "gRPC numbering");
_Static_assert(EVREPL_CODE_UNAVAILABLE == 14, "gRPC numbering");
_Static_assert(EVREPL_CODE_UNAUTHENTICATED == 16, "gRPC numbering");

static const char *const code_names[] = {
    [EVREPL_CODE_OK] = "OK",
    [EVREPL_CODE_CANCELLED] = "CANCELLED",
    [EVREPL_CODE_UNKNOWN] = "UNKNOWN",
    [EVREPL_CODE_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [EVREPL_CODE_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
    [EVREPL_CODE_NOT_FOUND] = "NOT_FOUND",
    [EVREPL_CODE_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [EVREPL_CODE_PERMISSION_DENIED] = "PERMISSION_DENIED",
    [EVREPL_CODE_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
    [EVREPL_CODE_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
    [EVREPL_CODE_ABORTED] = "ABORTED",
    [EVREPL_CODE_OUT_OF_RANGE] = "OUT_OF_RANGE",
    [EVREPL_CODE_UNIMPLEMENTED] = "UNIMPLEMENTED",
    [EVREPL_CODE_INTERNAL] = "INTERNAL",
    [EVREPL_CODE_UNAVAILABLE] = "UNAVAILABLE",
    [EVREPL_CODE_DATA_LOSS] = "DATA_LOSS",
    [EVREPL_CODE_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *
evrepl_code_name(evrepl_code code)
{
    unsigned u = (unsigned)code;
    if (u < sizeof(code_names) / sizeof(code_names[0])) {
        return code_names[u];
    }
    return "UNKNOWN_CODE";
}

evrepl_code
evri_status_set(evrepl_status *st, evrepl_code code, const char *fmt, ...)
{
    if (st != NULL) {
        va_list ap;
        st->code = code;
        va_start(ap, fmt);
        // Truncation is intended: the message buffer is fixed (hiredis errstr).
        (void)vsnprintf(st->message, sizeof(st->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

evrepl_code
evri_status_ok(evrepl_status *st)
{
    if (st != NULL) {
        st->code = EVREPL_CODE_OK;
        st->message[0] = '\0';
    }
    return EVREPL_CODE_OK;
}

evrepl_code
evri_status_copy(evrepl_status *st, const evrepl_status *src)
{
    if (src == NULL) {
        return evri_status_ok(st);
    }
    if (st != NULL && st != src) {
        *st = *src;
    }
    return src->code;
}

void
evri_quote_untrusted(char *out, size_t out_size, const char *in, size_t in_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (out_size < 5) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return;
    }
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : (c == '\\' ? 2 : 4);
        if (o + need + 4 > out_size) { // keep room for "..." and NUL
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (need == 1) {
            out[o++] = (char)c;
        } else if (need == 2) {
            out[o++] = '\\';
            out[o++] = '\\';
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }
    out[o] = '\0';
}
