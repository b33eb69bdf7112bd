// evrepl status codes: the gRPC canonical numbers, as the wire contract uses them.
//
// Thread safety: everything here is pure and safe from any thread.
#ifndef EVREPL_STATUS_H
#define EVREPL_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EVREPL_NODISCARD __attribute__((warn_unused_result))
#else
#define EVREPL_NODISCARD
#endif

// Outcome of every fallible evrepl call. The numbers are gRPC's and are fixed by the
// contract; a server may send any int32, which a client must treat as an error.
typedef enum evrepl_code {
    EVREPL_CODE_OK = 0,
    EVREPL_CODE_CANCELLED = 1,
    EVREPL_CODE_UNKNOWN = 2,
    EVREPL_CODE_INVALID_ARGUMENT = 3,
    EVREPL_CODE_DEADLINE_EXCEEDED = 4,
    EVREPL_CODE_NOT_FOUND = 5,
    EVREPL_CODE_ALREADY_EXISTS = 6,
    EVREPL_CODE_PERMISSION_DENIED = 7,
    EVREPL_CODE_RESOURCE_EXHAUSTED = 8,
    EVREPL_CODE_FAILED_PRECONDITION = 9,
    EVREPL_CODE_ABORTED = 10,
    EVREPL_CODE_OUT_OF_RANGE = 11,
    EVREPL_CODE_UNIMPLEMENTED = 12,
    EVREPL_CODE_INTERNAL = 13,
    EVREPL_CODE_UNAVAILABLE = 14,
    EVREPL_CODE_DATA_LOSS = 15,
    EVREPL_CODE_UNAUTHENTICATED = 16,
} evrepl_code;

// Size of evrepl_status.message, terminating NUL included.
#define EVREPL_STATUS_MESSAGE_MAX 256

// A code and one human-readable sentence. Caller-owned, usually on the stack; functions that
// take an `evrepl_status *` accept NULL and fill it on every return that is not OK. The
// message never contains secrets (conninfo passwords, key material).
typedef struct evrepl_status {
    evrepl_code code;
    char message[EVREPL_STATUS_MESSAGE_MAX];
} evrepl_status;

// Returns the canonical upper-case name ("NOT_FOUND") of a code, or "UNKNOWN_CODE" for a
// number outside 0..16. The string is static.
const char *evrepl_code_name(evrepl_code code);

#ifdef __cplusplus
}
#endif

#endif // EVREPL_STATUS_H
