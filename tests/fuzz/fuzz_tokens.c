// Fuzz target: the --tokens file parser (src/rpc/auth.c), then one check against whatever it
// loaded.
#include <stdlib.h>

#include "fuzz.h"
#include "handlers/handlers.h"
#include "rpc/auth.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    const evri_service_binding *b = evri_handler_bindings(&n);
    evri_auth *a = NULL;
    evrepl_status st;
    if (evri_auth_create(&a, b, n, &st) != EVREPL_CODE_OK) {
        abort();
    }
    if (evri_auth_load_tokens_text(a, "fuzz", (const char *)data, size, &st) == EVREPL_CODE_OK) {
        evrepl_code code =
            evri_auth_check(a, NULL, "Bearer evrepl_0123456789012345678901234567890123",
                            "/evrepl.v1.Server/Describe", false, &st);
        if (code != EVREPL_CODE_OK && code != EVREPL_CODE_UNAUTHENTICATED &&
            code != EVREPL_CODE_PERMISSION_DENIED) {
            abort(); // the check answers nothing else
        }
    }
    evri_auth_destroy(a);
    return 0;
}
