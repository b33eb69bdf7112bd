// String checks for protobuf input. protobuf-c 1.4 neither validates UTF-8 nor keeps a
// string's length (an embedded NUL silently cuts it), while clients in other languages reject
// a message whose string is not UTF-8. So the server checks the raw string bytes itself, after
// protobuf-c has accepted the message's structure.
//
// Thread safety: pure.
#ifndef EVREPL_RPC_UTF8_H
#define EVREPL_RPC_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "domain/utf8.h"

// True when every string field in the serialized message buf (of type d), in nested messages
// and map entries too, is well-formed UTF-8 without NUL bytes, and nesting stays within
// max_depth. Call it only on bytes that protobuf_c_message_unpack() accepted.
bool evri_wire_strings_valid(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                             unsigned max_depth);

#endif // EVREPL_RPC_UTF8_H
