#include "common/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "domain/status.h"

static evrepl_code
io_error(evrepl_status *st, int err, const char *what, const char *path)
{
    evrepl_code code = err == ENOENT                     ? EVREPL_CODE_NOT_FOUND
                       : (err == EACCES || err == EPERM) ? EVREPL_CODE_PERMISSION_DENIED
                       : err == EEXIST                   ? EVREPL_CODE_ALREADY_EXISTS
                                                         : EVREPL_CODE_INTERNAL;
    return evri_status_set(st, code, "cannot %s %s: %s", what, path, strerror(err));
}

evrepl_code
evri_keyfile_read(evri_signer **out, const char *path, evrepl_status *st)
{
    uint8_t sk[EVRI_SECRET_KEY_BYTES + 1];
    struct stat sb;
    evrepl_code code;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return io_error(st, errno, "open key file", path);
    }
    if (fstat(fd, &sb) != 0) {
        code = io_error(st, errno, "stat key file", path);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "key file %s is not a file", path);
        goto out;
    }
    if ((sb.st_mode & 077) != 0) {
        code = evri_status_set(st, EVREPL_CODE_FAILED_PRECONDITION,
                               "key file %s is readable by others (mode %04o); chmod 600 it", path,
                               (unsigned)(sb.st_mode & 07777));
        goto out;
    }
    ssize_t n = read(fd, sk, sizeof(sk));
    if (n < 0) {
        code = io_error(st, errno, "read key file", path);
        goto out;
    }
    if (n != EVRI_SECRET_KEY_BYTES) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "%s is not an evrepl secret key file (want %d bytes, as written "
                               "by evrepl keygen)",
                               path, EVRI_SECRET_KEY_BYTES);
        goto out;
    }
    code = evri_signer_create(out, sk, st);
    if (code != EVREPL_CODE_OK) {
        code = evri_status_set(st, code, "%s: %s", path, st != NULL ? st->message : "bad key");
    }
out:
    sodium_memzero(sk, sizeof(sk));
    close(fd);
    return code;
}

static evrepl_code
write_all(int fd, const void *p, size_t len, const char *path, evrepl_status *st)
{
    const uint8_t *b = p;
    while (len > 0) {
        ssize_t n = write(fd, b, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return io_error(st, errno, "write", path);
        }
        b += n;
        len -= (size_t)n;
    }
    return EVREPL_CODE_OK;
}

evrepl_code
evri_keyfile_write(const evri_signer *s, const char *path, evrepl_status *st)
{
    uint8_t sk[EVRI_SECRET_KEY_BYTES];
    char pub_path[4096];
    char hex[EVREPL_PUBLIC_KEY_BYTES * 2 + 2];
    evrepl_code code;

    if ((size_t)snprintf(pub_path, sizeof(pub_path), "%s.pub", path) >= sizeof(pub_path)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "key file path is too long");
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return io_error(st, errno, "create key file", path);
    }
    evri_signer_export_secret(s, sk);
    code = write_all(fd, sk, sizeof(sk), path, st);
    sodium_memzero(sk, sizeof(sk));
    if (code == EVREPL_CODE_OK && fsync(fd) != 0) {
        code = io_error(st, errno, "sync", path);
    }
    if (close(fd) != 0 && code == EVREPL_CODE_OK) {
        code = io_error(st, errno, "close", path);
    }
    if (code != EVREPL_CODE_OK) {
        unlink(path);
        return code;
    }
    sodium_bin2hex(hex, sizeof(hex), evri_signer_public_key(s), EVREPL_PUBLIC_KEY_BYTES);
    strcat(hex, "\n");
    fd = open(pub_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return io_error(st, errno, "create", pub_path);
    }
    code = write_all(fd, hex, strlen(hex), pub_path, st);
    if (close(fd) != 0 && code == EVREPL_CODE_OK) {
        code = io_error(st, errno, "close", pub_path);
    }
    return code == EVREPL_CODE_OK ? evri_status_ok(st) : code;
}

bool
evri_keyset_add(evri_keyset *ks, const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES])
{
    char id[EVRI_KEY_ID_LEN + 1];
    evri_key_id(public_key, id);
    if (evri_keyset_find(ks, id) != NULL) {
        return true;
    }
    uint8_t(*keys)[EVREPL_PUBLIC_KEY_BYTES] = realloc(ks->keys, (ks->n + 1) * sizeof(*keys));
    if (keys == NULL) {
        return false;
    }
    ks->keys = keys;
    char(*ids)[EVRI_KEY_ID_LEN + 1] = realloc(ks->ids, (ks->n + 1) * sizeof(*ids));
    if (ids == NULL) {
        return false;
    }
    ks->ids = ids;
    memcpy(ks->keys[ks->n], public_key, EVREPL_PUBLIC_KEY_BYTES);
    memcpy(ks->ids[ks->n], id, sizeof(id));
    ks->n++;
    return true;
}

const uint8_t *
evri_keyset_find(const evri_keyset *ks, const char *key_id)
{
    for (size_t i = 0; i < ks->n; i++) {
        if (strcmp(ks->ids[i], key_id) == 0) {
            return ks->keys[i];
        }
    }
    return NULL;
}

void
evri_keyset_clear(evri_keyset *ks)
{
    free(ks->keys);
    free(ks->ids);
    memset(ks, 0, sizeof(*ks));
}

evrepl_code
evri_keyset_read(evri_keyset *out, const char *path, evrepl_status *st)
{
    evri_keyset ks = {0};
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    evrepl_code code = EVREPL_CODE_OK;
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return io_error(st, errno, "open trusted keys file", path);
    }
    while (getline(&line, &cap, f) >= 0) {
        uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
        size_t bin_len = 0;
        const char *end = NULL;
        char *p = line;
        lineno++;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        size_t len = strcspn(p, "\r\n");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len == 0 || p[0] == '#') {
            continue;
        }
        if (sodium_hex2bin(pk, sizeof(pk), p, len, NULL, &bin_len, &end) != 0 ||
            bin_len != sizeof(pk) || end != p + len) {
            code =
                evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                "%s line %u: not a public key (want 64 hex digits)", path, lineno);
            break;
        }
        if (!evri_keyset_add(&ks, pk)) {
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading %s", path);
            break;
        }
    }
    if (code == EVREPL_CODE_OK && ferror(f)) {
        code = io_error(st, errno, "read", path);
    }
    free(line);
    fclose(f);
    if (code != EVREPL_CODE_OK) {
        evri_keyset_clear(&ks);
        return code;
    }
    *out = ks;
    return evri_status_ok(st);
}
