// Who may call: the server's access policy, checked by the rpc layer on every call after the
// method is known and before its payload is decoded (docs/security.md).
//
// - ipc:// peer uids: once any uid is allowed, a call from an ipc peer whose uid (reported by
//   the kernel) is not listed gets PERMISSION_DENIED, whatever the method. Peers on tcp://,
//   tls+tcp:// and inproc:// have no uid and are not affected.
// - Bearer tokens: once a tokens file is loaded, every method except the open ones (Health)
//   needs `authorization: Bearer TOKEN` with a token listed in the file: none or an unknown one
//   gets UNAUTHENTICATED, a known one not allowed that method PERMISSION_DENIED.
//
// The tokens file holds one token per line, `sha256:<64 hex digits> METHODS`, where the hex is
// SHA-256 of the token's bytes and METHODS is `*` or a comma-separated list of method paths
// (`/evrepl.v1.Server/Describe`). Blank lines and lines starting with `#` are ignored. The
// server keeps only the hashes and compares them in constant time; no message or log line
// ever carries a token.
//
// Thread safety: build the policy on one thread; afterwards evri_auth_check() may run on any
// number of threads at once (it only reads).
#ifndef EVREPL_RPC_AUTH_H
#define EVREPL_RPC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evrepl/status.h"
#include "rpc/rpc.h"

#define EVRI_TOKEN_HASH_PREFIX "sha256:"
// Tokens are long random secrets (a fast hash is only safe for those): at least this many
// characters of [A-Za-z0-9._~+/=-].
#define EVRI_TOKEN_MIN_CHARS 32
#define EVRI_TOKEN_MAX_CHARS 256
// What evri_auth_token_new() writes: "evrepl_" and 43 base64url characters (256 random bits).
#define EVRI_TOKEN_PREFIX    "evrepl_"
#define EVRI_TOKEN_NEW_CHARS (7 + 43)
// Longest line of a tokens file.
#define EVRI_TOKEN_LINE_MAX 4096

// Creates a policy that allows everything, for the methods of bindings (the method table the
// server serves; names in a tokens file must be among them). Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_auth_create(evri_auth **out, const evri_service_binding *bindings,
                                              size_t n_bindings, evrepl_status *st);

// Frees the policy. Accepts NULL.
void evri_auth_destroy(evri_auth *a);

// Reads a tokens file (format above); from then on tokens are required. INVALID_ARGUMENT
// names the file and line and what is wrong with it; the policy is unchanged on failure.
EVREPL_NODISCARD evrepl_code evri_auth_load_tokens(evri_auth *a, const char *path,
                                                   evrepl_status *st);

// Reads tokens-file text from memory (the same rules; `name` stands for the file in messages).
EVREPL_NODISCARD evrepl_code evri_auth_load_tokens_text(evri_auth *a, const char *name,
                                                        const char *text, size_t len,
                                                        evrepl_status *st);

// Allows calls from ipc:// peers with this uid; the first call turns the uid check on.
EVREPL_NODISCARD evrepl_code evri_auth_allow_uid(evri_auth *a, uint64_t uid, evrepl_status *st);

// True when the policy refuses anything (tokens loaded or a uid list set).
bool evri_auth_active(const evri_auth *a);

// True when ipc peer uids are checked (a uid list is set). Accepts NULL (false).
bool evri_auth_checks_uids(const evri_auth *a);

// Decides one call to method (a path of the table; NULL never) from peer (NULL: no peer
// facts) carrying the authorization metadata value (NULL when absent). open: the method
// needs no token (Health). Returns OK, UNAUTHENTICATED or PERMISSION_DENIED with st filled.
EVREPL_NODISCARD evrepl_code evri_auth_check(const evri_auth *a, const evri_peer *peer,
                                             const char *authorization, const char *method,
                                             bool open, evrepl_status *st);

// Writes a fresh random token (EVRI_TOKEN_NEW_CHARS characters and a NUL) into out.
void evri_auth_token_new(char out[EVRI_TOKEN_NEW_CHARS + 1]);

// Writes the tokens-file line (no newline) for token and methods (`*` or comma-separated
// method paths of a's table) into out. INVALID_ARGUMENT for a token that is too short or
// holds characters outside the token alphabet, or an unknown method (named); the message
// never repeats the token.
EVREPL_NODISCARD evrepl_code evri_auth_token_line(const evri_auth *a, const char *token,
                                                  const char *methods, char *out, size_t size,
                                                  evrepl_status *st);

#endif // EVREPL_RPC_AUTH_H
