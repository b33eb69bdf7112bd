// Canonical UUID text: 8-4-4-4-12 hex digits, any case on input, formatted lowercase.
#include <string.h>

#include "domain/status.h"
#include "evrepl/types.h"

static int
uuid_is_dash_at(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

// The value of a hex digit, or -1.
static int
uuid_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

evrepl_code
evrepl_uuid_parse(const char *text, uint8_t out[16], evrepl_status *st)
{
    uint8_t buf[16];
    size_t o = 0;

    if (text == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "event id is empty");
    }
    size_t len = strnlen(text, EVREPL_UUID_STR_LEN + 1);
    if (len != EVREPL_UUID_STR_LEN) {
        goto bad;
    }
    // Every PropagateEvent parses one: a digit table, not libsodium's constant-time decoder,
    // which costs ten times more and guards secrets that an event id is not.
    for (size_t i = 0; i < len;) {
        if (uuid_is_dash_at(i)) {
            if (text[i] != '-') {
                goto bad;
            }
            i++;
            continue;
        }
        int hi = uuid_hex(text[i]), lo = uuid_hex(text[i + 1]);
        if (hi < 0 || lo < 0 || uuid_is_dash_at(i + 1)) {
            goto bad;
        }
        buf[o++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    memcpy(out, buf, sizeof(buf));
    return evri_status_ok(st);
bad : {
    char q[48];
    evri_quote_untrusted(q, sizeof(q), text, strnlen(text, 64));
    return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                           "event id '%s' is not a canonical UUID (8-4-4-4-12 hex digits)", q);
}
}

void
evrepl_uuid_format(const uint8_t uuid[16], char out[EVREPL_UUID_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (uuid_is_dash_at(o)) {
            out[o++] = '-';
        }
        out[o++] = hex[uuid[i] >> 4];
        out[o++] = hex[uuid[i] & 0xf];
    }
    out[o] = '\0';
}
