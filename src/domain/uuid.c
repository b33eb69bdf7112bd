// Canonical UUID text: 8-4-4-4-12 hex digits. Parsed with libsodium's hex decoder once the
// dash positions are checked, formatted lowercase.
#include <string.h>

#include <sodium.h>

#include "domain/status.h"
#include "evrepl/types.h"

static int
uuid_is_dash_at(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

evrepl_code
evrepl_uuid_parse(const char *text, uint8_t out[16], evrepl_status *st)
{
    uint8_t buf[16];
    size_t bin_len = 0;
    const char *end = NULL;

    if (text == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "event id is empty");
    }
    size_t len = strnlen(text, EVREPL_UUID_STR_LEN + 1);
    if (len != EVREPL_UUID_STR_LEN) {
        goto bad;
    }
    for (size_t i = 0; i < len; i++) {
        if ((text[i] == '-') != uuid_is_dash_at(i)) {
            goto bad;
        }
    }
    // The dashes are where they belong, so letting the decoder skip them is exact.
    if (sodium_hex2bin(buf, sizeof(buf), text, len, "-", &bin_len, &end) != 0 ||
        bin_len != sizeof(buf) || end != text + len) {
        goto bad;
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
