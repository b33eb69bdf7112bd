// The access policy: ipc peer uids and bearer tokens (rpc/auth.h).
#include "rpc/auth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/status.h"
#include "rpc/call.h"

// A bitmask of method indexes: the table has four methods, 64 leaves room.
#define AUTH_MAX_METHODS   64
#define AUTH_ALL_METHODS   UINT64_MAX
#define AUTH_MAX_FILE_SIZE (1u << 20)
#define BEARER_SCHEME      "bearer"

typedef struct auth_token {
    uint8_t hash[crypto_hash_sha256_BYTES];
    uint64_t methods; // bit i: method i of the table may be called
    size_t line;      // where the file listed it (for duplicate messages)
} auth_token;

struct evri_auth {
    char **methods; // the method table's paths
    size_t n_methods;
    auth_token *tokens;
    size_t n_tokens;
    bool tokens_required;
    uint64_t *uids;
    size_t n_uids;
};

evrepl_code
evri_auth_create(evri_auth **out, const evri_service_binding *bindings, size_t n_bindings,
                 evrepl_status *st)
{
    if (n_bindings > AUTH_MAX_METHODS) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL,
                               "the access policy handles at most %d "
                               "methods",
                               AUTH_MAX_METHODS);
    }
    if (sodium_init() < 0) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "libsodium failed to initialise");
    }
    evri_auth *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->methods = calloc(n_bindings + 1, sizeof(char *))) == NULL) {
        free(a);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the policy");
    }
    for (size_t i = 0; i < n_bindings; i++) {
        const char *svc = bindings[i].service->name;
        size_t len = 1 + strlen(svc) + 1 + strlen(bindings[i].method) + 1;
        if ((a->methods[i] = malloc(len)) == NULL) {
            evri_auth_destroy(a);
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the policy");
        }
        snprintf(a->methods[i], len, "/%s/%s", svc, bindings[i].method);
        a->n_methods++;
    }
    *out = a;
    return evri_status_ok(st);
}

void
evri_auth_destroy(evri_auth *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n_methods; i++) {
        free(a->methods[i]);
    }
    free(a->methods);
    free(a->tokens);
    free(a->uids);
    free(a);
}

bool
evri_auth_active(const evri_auth *a)
{
    return a != NULL && (a->tokens_required || a->n_uids > 0);
}

bool
evri_auth_checks_uids(const evri_auth *a)
{
    return a != NULL && a->n_uids > 0;
}

evrepl_code
evri_auth_allow_uid(evri_auth *a, uint64_t uid, evrepl_status *st)
{
    uint64_t *u = realloc(a->uids, (a->n_uids + 1) * sizeof(*u));
    if (u == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the policy");
    }
    u[a->n_uids++] = uid;
    a->uids = u;
    return evri_status_ok(st);
}

static bool
auth_find_method(const evri_auth *a, const char *path, size_t len, size_t *index)
{
    for (size_t i = 0; i < a->n_methods; i++) {
        if (strlen(a->methods[i]) == len && memcmp(a->methods[i], path, len) == 0) {
            *index = i;
            return true;
        }
    }
    return false;
}

// Parses `*` or a comma-separated list of method paths into a bitmask. On failure writes the
// offending name (quoted for a message) into bad.
static bool
auth_parse_methods(const evri_auth *a, const char *s, size_t len, uint64_t *mask, char *bad,
                   size_t bad_size)
{
    if (len == 1 && s[0] == '*') {
        *mask = AUTH_ALL_METHODS;
        return true;
    }
    uint64_t m = 0;
    size_t pos = 0;
    for (;;) {
        size_t end = pos;
        while (end < len && s[end] != ',') {
            end++;
        }
        size_t index;
        if (!auth_find_method(a, s + pos, end - pos, &index)) {
            evri_quote_untrusted(bad, bad_size, s + pos, end - pos);
            return false;
        }
        m |= (uint64_t)1 << index;
        if (end == len) {
            break;
        }
        pos = end + 1;
    }
    *mask = m;
    return true;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

// One field of a line: skips blanks from *pos and returns the next run of non-blanks.
static size_t
next_field(const char *line, size_t len, size_t *pos, const char **field)
{
    size_t p = *pos;
    while (p < len && is_blank(line[p])) {
        p++;
    }
    size_t start = p;
    while (p < len && !is_blank(line[p])) {
        p++;
    }
    *pos = p;
    *field = line + start;
    return p - start;
}

static evrepl_code
auth_parse_line(const evri_auth *a, const char *name, size_t lineno, const char *line, size_t len,
                auth_token *tok, bool *empty, evrepl_status *st)
{
    const char *hash_text, *methods, *extra;
    size_t pos = 0;
    size_t hash_len = next_field(line, len, &pos, &hash_text);
    *empty = hash_len == 0 || hash_text[0] == '#';
    if (*empty) {
        return evri_status_ok(st);
    }
    size_t methods_len = next_field(line, len, &pos, &methods);
    size_t extra_len = next_field(line, len, &pos, &extra);
    if (methods_len == 0 || extra_len != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "tokens file %s line %zu: want 'sha256:HEX METHOD[,METHOD...]' "
                               "or 'sha256:HEX *'",
                               name, lineno);
    }
    size_t prefix = strlen(EVRI_TOKEN_HASH_PREFIX);
    size_t bin_len = 0;
    if (hash_len != prefix + 2 * sizeof(tok->hash) ||
        memcmp(hash_text, EVRI_TOKEN_HASH_PREFIX, prefix) != 0 ||
        sodium_hex2bin(tok->hash, sizeof(tok->hash), hash_text + prefix, hash_len - prefix, NULL,
                       &bin_len, NULL) != 0 ||
        bin_len != sizeof(tok->hash)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "tokens file %s line %zu: the hash is not 'sha256:' and 64 hex "
                               "digits (the file holds token hashes, never tokens: see evrepl "
                               "token-hash)",
                               name, lineno);
    }
    char bad[96];
    if (!auth_parse_methods(a, methods, methods_len, &tok->methods, bad, sizeof(bad))) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "tokens file %s line %zu: unknown method '%s' (want '*' or "
                               "paths such as /evrepl.v1.Server/Describe)",
                               name, lineno, bad);
    }
    tok->line = lineno;
    return evri_status_ok(st);
}

evrepl_code
evri_auth_load_tokens_text(evri_auth *a, const char *name, const char *text, size_t len,
                           evrepl_status *st)
{
    auth_token *tokens = NULL;
    size_t n = 0, cap = 0, lineno = 0, pos = 0;
    evrepl_code code = EVREPL_CODE_OK;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += line_len + (nl != NULL ? 1 : 0);
        lineno++;
        if (line_len > EVRI_TOKEN_LINE_MAX || memchr(line, '\0', line_len) != NULL) {
            code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                   "tokens file %s line %zu: not a line of text", name, lineno);
            goto out;
        }
        auth_token tok = {{0}, 0, 0};
        bool empty;
        if ((code = auth_parse_line(a, name, lineno, line, line_len, &tok, &empty, st)) !=
            EVREPL_CODE_OK) {
            goto out;
        }
        if (empty) {
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (sodium_memcmp(tokens[i].hash, tok.hash, sizeof(tok.hash)) == 0) {
                code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                       "tokens file %s line %zu: the same token hash as line %zu",
                                       name, lineno, tokens[i].line);
                goto out;
            }
        }
        if (n == cap) {
            size_t ncap = cap > 0 ? cap * 2 : 8;
            auth_token *nt = realloc(tokens, ncap * sizeof(*nt));
            if (nt == NULL) {
                code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading %s", name);
                goto out;
            }
            tokens = nt;
            cap = ncap;
        }
        tokens[n++] = tok;
    }
    // A file with no token is valid: tokens are required and none is known, so every call
    // but Health is refused (a server locked down for maintenance).
    free(a->tokens);
    a->tokens = tokens;
    a->n_tokens = n;
    a->tokens_required = true;
    tokens = NULL;
    code = evri_status_ok(st);
out:
    free(tokens);
    return code;
}

evrepl_code
evri_auth_load_tokens(evri_auth *a, const char *path, evrepl_status *st)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "cannot open tokens file %s: %s",
                               path, strerror(errno));
    }
    evrepl_code code;
    char *buf = malloc(AUTH_MAX_FILE_SIZE + 1);
    if (buf == NULL) {
        fclose(f);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading %s", path);
    }
    size_t len = fread(buf, 1, AUTH_MAX_FILE_SIZE + 1, f);
    if (ferror(f)) {
        code =
            evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "cannot read tokens file %s", path);
    } else if (len > AUTH_MAX_FILE_SIZE) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "tokens file %s is larger than %u bytes", path, AUTH_MAX_FILE_SIZE);
    } else {
        code = evri_auth_load_tokens_text(a, path, buf, len, st);
    }
    fclose(f);
    free(buf);
    return code;
}

static bool
token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

static bool
token_valid(const char *t, size_t len)
{
    if (len < EVRI_TOKEN_MIN_CHARS || len > EVRI_TOKEN_MAX_CHARS) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!token_char(t[i])) {
            return false;
        }
    }
    return true;
}

// The token of an `authorization: Bearer TOKEN` value (the scheme is case-insensitive, as in
// RFC 6750), or NULL when the value is not of that form.
static const char *
bearer_token(const char *value, size_t *len)
{
    size_t n = strlen(BEARER_SCHEME);
    if (value == NULL || strlen(value) <= n) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = value[i];
        if ((c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c) != BEARER_SCHEME[i]) {
            return NULL;
        }
    }
    if (value[n] != ' ') {
        return NULL;
    }
    while (value[n] == ' ') {
        n++;
    }
    *len = strlen(value + n);
    return *len > 0 ? value + n : NULL;
}

// The token entry whose hash matches, or NULL. Every entry is compared (no early exit).
static const auth_token *
auth_find_token(const evri_auth *a, const char *token, size_t len)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    const auth_token *found = NULL;
    crypto_hash_sha256(h, (const unsigned char *)token, len);
    for (size_t i = 0; i < a->n_tokens; i++) {
        if (sodium_memcmp(a->tokens[i].hash, h, sizeof(h)) == 0) {
            found = &a->tokens[i];
        }
    }
    sodium_memzero(h, sizeof(h));
    return found;
}

evrepl_code
evri_auth_check(const evri_auth *a, const evri_peer *peer, const char *authorization,
                const char *method, bool open, evrepl_status *st)
{
    if (a == NULL) {
        return evri_status_ok(st);
    }
    if (a->n_uids > 0 && peer != NULL && peer->has_uid) {
        bool allowed = false;
        for (size_t i = 0; i < a->n_uids; i++) {
            allowed = allowed || a->uids[i] == peer->uid;
        }
        if (!allowed) {
            return evri_status_set(st, EVREPL_CODE_PERMISSION_DENIED,
                                   "ipc peer uid %" PRIu64 " is not allowed to call this server",
                                   peer->uid);
        }
    }
    if (!a->tokens_required || open) {
        return evri_status_ok(st);
    }
    size_t len = 0;
    const char *token = bearer_token(authorization, &len);
    if (token == NULL) {
        return evri_status_set(st, EVREPL_CODE_UNAUTHENTICATED,
                               authorization == NULL
                                   ? "%s needs a bearer token (metadata 'authorization: Bearer "
                                     "TOKEN')"
                                   : "%s needs a bearer token, and the authorization metadata is "
                                     "not 'Bearer TOKEN'",
                               method);
    }
    const auth_token *t = auth_find_token(a, token, len);
    if (t == NULL) {
        return evri_status_set(st, EVREPL_CODE_UNAUTHENTICATED,
                               "the bearer token is not one this server accepts");
    }
    size_t index;
    if (!auth_find_method(a, method, strlen(method), &index) ||
        (t->methods & ((uint64_t)1 << index)) == 0) {
        return evri_status_set(st, EVREPL_CODE_PERMISSION_DENIED,
                               "the bearer token may not call %s", method);
    }
    return evri_status_ok(st);
}

void
evri_auth_token_new(char out[EVRI_TOKEN_NEW_CHARS + 1])
{
    uint8_t raw[32];
    size_t prefix = strlen(EVRI_TOKEN_PREFIX);
    memcpy(out, EVRI_TOKEN_PREFIX, prefix);
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out + prefix, EVRI_TOKEN_NEW_CHARS + 1 - prefix, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

evrepl_code
evri_auth_token_line(const evri_auth *a, const char *token, const char *methods, char *out,
                     size_t size, evrepl_status *st)
{
    if (!token_valid(token, strlen(token))) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "a token must be %d-%d characters of A-Z a-z 0-9 -._~+/= (make one "
                               "with evrepl token-new)",
                               EVRI_TOKEN_MIN_CHARS, EVRI_TOKEN_MAX_CHARS);
    }
    uint64_t mask;
    char bad[96];
    if (methods[0] == '\0' ||
        !auth_parse_methods(a, methods, strlen(methods), &mask, bad, sizeof(bad))) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "unknown method '%s' (want '*' or paths such as "
                               "/evrepl.v1.Server/Describe)",
                               methods[0] == '\0' ? "" : bad);
    }
    uint8_t h[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof(h) + 1];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    int n = snprintf(out, size, "%s%s %s", EVRI_TOKEN_HASH_PREFIX, hex, methods);
    if (n < 0 || (size_t)n >= size) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "the method list is too long");
    }
    return evri_status_ok(st);
}
