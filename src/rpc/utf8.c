#include "rpc/utf8.h"

#include <stdint.h>
#include <string.h>

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
