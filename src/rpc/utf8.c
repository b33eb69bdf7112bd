#include "rpc/utf8.h"

#include <stdint.h>
#include <string.h>

bool
evri_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        // Every call checks its method name and ids, which are ASCII: eight bytes at a time.
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, sizeof(w));
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned min, cp;
        if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n) {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

// Reads a base-128 varint; false when it runs past the end or beyond 10 bytes.
static bool
wire_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= len) {
            return false;
        }
        uint8_t b = buf[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

bool
evri_wire_strings_valid(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                        unsigned max_depth)
{
    size_t pos = 0;
    if (max_depth == 0) {
        return false;
    }
    while (pos < len) {
        uint64_t key, n;
        if (!wire_varint(buf, len, &pos, &key)) {
            return false;
        }
        switch (key & 7) {
        case 0: // varint
            if (!wire_varint(buf, len, &pos, &n)) {
                return false;
            }
            break;
        case 1: // 64-bit
            if (len - pos < 8) {
                return false;
            }
            pos += 8;
            break;
        case 5: // 32-bit
            if (len - pos < 4) {
                return false;
            }
            pos += 4;
            break;
        case 2: { // length-delimited
            if (!wire_varint(buf, len, &pos, &n) || n > len - pos) {
                return false;
            }
            const uint8_t *p = buf + pos;
            size_t plen = (size_t)n;
            pos += plen;
            uint64_t number = key >> 3;
            const ProtobufCFieldDescriptor *f =
                number <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)number)
                                     : NULL;
            if (f == NULL) {
                break; // unknown field: protobuf-c keeps it as bytes, never as a string
            }
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                if (memchr(p, 0, plen) != NULL || !evri_utf8_valid((const char *)p, plen)) {
                    return false;
                }
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (!evri_wire_strings_valid(f->descriptor, p, plen, max_depth - 1)) {
                    return false;
                }
            }
            break;
        }
        default: // groups (3, 4) and reserved wire types
            return false;
        }
    }
    return true;
}
