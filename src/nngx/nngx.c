#include "nngx/nngx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/status.h"

evrepl_code
evri_code_from_nng(int rv)
{
    switch (rv) {
    case 0:
        return EVREPL_CODE_OK;
    case NNG_ETIMEDOUT:
        return EVREPL_CODE_DEADLINE_EXCEEDED;
    case NNG_ECONNREFUSED:
    case NNG_ECLOSED:
    case NNG_ECONNABORTED:
    case NNG_ECONNRESET:
    case NNG_ECONNSHUT:
    case NNG_EUNREACHABLE:
    case NNG_EADDRINUSE:
    case NNG_ECRYPTO:
    case NNG_EPEERAUTH:
    case NNG_EAGAIN:
    case NNG_ESTATE:
        return EVREPL_CODE_UNAVAILABLE;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
    case NNG_ENOENT:
    case NNG_EBADTYPE:
        return EVREPL_CODE_INVALID_ARGUMENT;
    case NNG_EPERM:
        return EVREPL_CODE_PERMISSION_DENIED;
    case NNG_EMSGSIZE:
    case NNG_ENOMEM:
    case NNG_ENOFILES:
    case NNG_ENOSPC:
        return EVREPL_CODE_RESOURCE_EXHAUSTED;
    case NNG_ECANCELED:
        return EVREPL_CODE_CANCELLED;
    default:
        return EVREPL_CODE_INTERNAL;
    }
}

bool
evri_url_is_tls(const char *url)
{
    return strncmp(url, "tls+tcp", 7) == 0;
}

// Reads a whole PEM file into a NUL-terminated heap string (mbedTLS wants the NUL).
static char *
read_pem(const char *path, evrepl_status *st, const char *what)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (f == NULL) {
        evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "cannot open %s %s: %s", what, path,
                        strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - len < 4096) {
            if (cap >= (1u << 20)) { // no PEM bundle is a megabyte
                evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "%s %s is too large", what, path);
                goto fail;
            }
            char *nb = realloc(buf, cap + 8192);
            if (nb == NULL) {
                evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading %s", path);
                goto fail;
            }
            buf = nb;
            cap += 8192;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "cannot read %s %s", what, path);
        goto fail;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
fail:
    if (buf != NULL) {
        sodium_memzero(buf, cap);
    }
    free(buf);
    fclose(f);
    return NULL;
}

evrepl_code
evri_tls_config_create(nng_tls_config **out, nng_tls_mode mode, const char *cert_file,
                       const char *key_file, const char *ca_file, const char *server_name,
                       evrepl_status *st)
{
    nng_tls_config *cfg = NULL;
    char *cert = NULL, *key = NULL;
    evrepl_code code = EVREPL_CODE_OK;
    int rv;

    if ((cert_file == NULL) != (key_file == NULL)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "TLS needs both a certificate and its key file");
    }
    if (ca_file == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "TLS needs a CA file to verify the peer (--tls-ca)");
    }
    if (mode == NNG_TLS_MODE_SERVER && cert_file == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "a tls+tcp:// listener needs --tls-cert and --tls-key");
    }
    if ((rv = nng_tls_config_alloc(&cfg, mode)) != 0) {
        return evri_status_set(st, evri_code_from_nng(rv), "cannot set up TLS: %s",
                               nng_strerror(rv));
    }
    if (cert_file != NULL) {
        if ((cert = read_pem(cert_file, st, "TLS certificate")) == NULL ||
            (key = read_pem(key_file, st, "TLS key")) == NULL) {
            code = st != NULL ? st->code : EVREPL_CODE_INVALID_ARGUMENT;
            goto out;
        }
        if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
            code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                   "TLS certificate %s or key %s is not usable: %s", cert_file,
                                   key_file, nng_strerror(rv));
            goto out;
        }
    }
    if ((rv = nng_tls_config_ca_file(cfg, ca_file)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "TLS CA file %s is not usable: %s",
                               ca_file, nng_strerror(rv));
        goto out;
    }
    if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL,
                               "cannot require TLS peer "
                               "authentication: %s",
                               nng_strerror(rv));
        goto out;
    }
    if (server_name != NULL && (rv = nng_tls_config_server_name(cfg, server_name)) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "bad TLS server name: %s",
                               nng_strerror(rv));
        goto out;
    }
out:
    if (key != NULL) {
        sodium_memzero(key, strlen(key));
    }
    free(cert);
    free(key);
    if (code != EVREPL_CODE_OK) {
        nng_tls_config_free(cfg);
        return code;
    }
    *out = cfg;
    return evri_status_ok(st);
}
