// Rendering of answers for people (tables) and scripts (--json: one object, contract field
// names, bytes as lowercase hex, enums by full name, timestamps RFC 3339 UTC).
#ifndef EVREPL_TOOLS_EVREPL_OUTPUT_H
#define EVREPL_TOOLS_EVREPL_OUTPUT_H

#include <stdio.h>

#include "evrepl/evrepl.h"

// The result of checking a receipt's or result's signature on the client side.
typedef struct evri_sig_check {
    evrepl_code code; // OK valid, FAILED_PRECONDITION unsigned, else invalid or not checked
    char message[EVREPL_STATUS_MESSAGE_MAX];
    const char *key_source; // "pinned", "server" or NULL
} evri_sig_check;

// "VALID", "UNSIGNED", "INVALID" or "UNCHECKED".
const char *evri_sig_check_name(const evri_sig_check *c);

void evri_out_receipt(FILE *f, const evrepl_receipt *r, const evri_sig_check *sig);
void evri_out_receipt_json(FILE *f, const evrepl_receipt *r, const evri_sig_check *sig);
void evri_out_verification(FILE *f, const evrepl_verification *v, const evri_sig_check *sig);
void evri_out_verification_json(FILE *f, const evrepl_verification *v, const evri_sig_check *sig);
void evri_out_description(FILE *f, const evrepl_server_description *d);
void evri_out_description_json(FILE *f, const evrepl_server_description *d);
void evri_out_health_json(FILE *f, evrepl_serving_status s);
void evri_out_error_json(FILE *f, const evrepl_status *st);

// `verify --watch`. The key of a result: what a change means (validity, signature check, each
// replica's state); equal keys print no new line. A line: the time, VALID or NOT_VALID, the
// primary's head, each replica's state (with lag or divergence point), the signature check;
// with json one object per line instead. An error line: the time, ERROR and the status.
#define EVRI_WATCH_KEY_MAX 1024
void evri_out_watch_key(char *key, size_t size, const evrepl_verification *v,
                        const evri_sig_check *sig);
void evri_out_watch_line(FILE *f, const evrepl_verification *v, const evri_sig_check *sig,
                         bool json);
void evri_out_watch_error(FILE *f, const evrepl_status *st, bool json);

// Lowercase hex of p[0..len) into out (2*len+1 bytes).
void evri_hex(char *out, const uint8_t *p, size_t len);

#endif // EVREPL_TOOLS_EVREPL_OUTPUT_H
