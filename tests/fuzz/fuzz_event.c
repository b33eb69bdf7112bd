// Fuzz target: the strict decoder of an event's canonical bytes (docs/event-format.md). For
// every input it accepts, re-encoding must give back exactly the input.
#include <stdlib.h>
#include <string.h>

#include "domain/event.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    evri_event ev;
    evrepl_status st;
    if (evri_event_decode(&ev, data, size, &st) != EVREPL_CODE_OK) {
        return 0;
    }
    evri_canon c;
    evri_canon_init(&c);
    evri_event_canonical(&ev, &c);
    if (c.failed || c.len != size || memcmp(c.data, data, size) != 0) {
        abort(); // the decoder accepted bytes that are not canonical
    }
    uint8_t hash[EVREPL_HASH_BYTES];
    if (evri_event_hash(&ev, hash, &st) != EVREPL_CODE_OK) {
        abort();
    }
    evri_canon_free(&c);
    return 0;
}
