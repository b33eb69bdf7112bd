// UTF-8 validation, shared by the event format (event_type) and the rpc layer (protobuf
// strings, which protobuf-c does not check).
//
// Thread safety: pure.
#ifndef EVREPL_DOMAIN_UTF8_H
#define EVREPL_DOMAIN_UTF8_H

#include <stdbool.h>
#include <stddef.h>

// True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past
// U+10FFFF). NUL bytes count as well-formed; callers that refuse them check separately.
bool evri_utf8_valid(const char *s, size_t len);

#endif // EVREPL_DOMAIN_UTF8_H
