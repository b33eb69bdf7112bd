#include "adapters/postgres/heads.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "domain/status.h"
#include "domain/strv.h"

#define HEADS_FORMAT "evrepl-replica-heads-v1"

typedef struct head {
    char *id;
    bool known;
    uint64_t seq;
    uint8_t hash[EVREPL_HASH_BYTES];
} head;

struct evri_pg_heads {
    pthread_mutex_t mu;
    char *path;
    head *heads; // the configured replicas first, then ids only the file knew
    size_t n;    // configured
    size_t n_all;
    bool dirty;
};

static evrepl_code
heads_parse(evri_pg_heads *h, json_object *root, evrepl_status *st)
{
    json_object *fmt, *reps;
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "format", &fmt) ||
        strcmp(json_object_get_string(fmt), HEADS_FORMAT) != 0 ||
        !json_object_object_get_ex(root, "replicas", &reps) ||
        !json_object_is_type(reps, json_type_object)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "state file %s is not an evrepl state file", h->path);
    }
    json_object_object_foreach(reps, id, entry)
    {
        json_object *seq, *hash;
        uint8_t bin[EVREPL_HASH_BYTES];
        size_t len = 0;
        const char *end = NULL;
        if (!json_object_is_type(entry, json_type_object) ||
            !json_object_object_get_ex(entry, "sequence", &seq) ||
            !json_object_is_type(seq, json_type_int) ||
            !json_object_object_get_ex(entry, "hash", &hash) ||
            !json_object_is_type(hash, json_type_string) ||
            sodium_hex2bin(bin, sizeof(bin), json_object_get_string(hash),
                           (size_t)json_object_get_string_len(hash), NULL, &len, &end) != 0 ||
            len != sizeof(bin) || *end != '\0') {
            return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                   "state file %s: the entry of replica '%.64s' is malformed",
                                   h->path, id);
        }
        size_t k = 0;
        while (k < h->n_all && strcmp(h->heads[k].id, id) != 0) {
            k++;
        }
        if (k == h->n_all) {
            head *nh = realloc(h->heads, (h->n_all + 1) * sizeof(*nh));
            if (nh == NULL) {
                return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
            }
            h->heads = nh;
            memset(&h->heads[k], 0, sizeof(h->heads[k]));
            if ((h->heads[k].id = evri_strdup(id)) == NULL) {
                return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
            }
            h->n_all++;
        }
        h->heads[k].known = true;
        h->heads[k].seq = json_object_get_uint64(seq);
        memcpy(h->heads[k].hash, bin, sizeof(bin));
    }
    return evri_status_ok(st);
}

evrepl_code
evri_pg_heads_open(evri_pg_heads **out, const char *path, char *const *ids, size_t n,
                   evrepl_status *st)
{
    evrepl_code code = EVREPL_CODE_OK;
    evri_pg_heads *h = calloc(1, sizeof(*h));
    if (h == NULL || (n > 0 && (h->heads = calloc(n, sizeof(*h->heads))) == NULL)) {
        free(h);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    pthread_mutex_init(&h->mu, NULL);
    h->n = h->n_all = n;
    for (size_t i = 0; i < n; i++) {
        if ((h->heads[i].id = evri_strdup(ids[i])) == NULL) {
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
            goto fail;
        }
    }
    if (path != NULL) {
        if ((h->path = evri_strdup(path)) == NULL) {
            code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
            goto fail;
        }
        if (access(path, F_OK) == 0) {
            json_object *root = json_object_from_file(path);
            if (root == NULL) {
                code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                       "state file %s cannot be read as JSON: %s", path,
                                       json_util_get_last_err());
                goto fail;
            }
            code = heads_parse(h, root, st);
            json_object_put(root);
            if (code != EVREPL_CODE_OK) {
                goto fail;
            }
        } else if (errno != ENOENT) {
            code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "cannot use state file %s: %s",
                                   path, strerror(errno));
            goto fail;
        }
    }
    *out = h;
    return evri_status_ok(st);
fail:
    evri_pg_heads_close(h);
    return code;
}

bool
evri_pg_heads_get(evri_pg_heads *h, size_t i, uint64_t *seq, uint8_t hash[EVREPL_HASH_BYTES])
{
    bool known;
    pthread_mutex_lock(&h->mu);
    known = i < h->n && h->heads[i].known;
    if (known) {
        *seq = h->heads[i].seq;
        memcpy(hash, h->heads[i].hash, EVREPL_HASH_BYTES);
    }
    pthread_mutex_unlock(&h->mu);
    return known;
}

void
evri_pg_heads_advance(evri_pg_heads *h, size_t i, uint64_t seq,
                      const uint8_t hash[EVREPL_HASH_BYTES])
{
    pthread_mutex_lock(&h->mu);
    if (i < h->n && (!h->heads[i].known || seq > h->heads[i].seq)) {
        h->heads[i].known = true;
        h->heads[i].seq = seq;
        memcpy(h->heads[i].hash, hash, EVREPL_HASH_BYTES);
        h->dirty = true;
    }
    pthread_mutex_unlock(&h->mu);
}

static evrepl_code
heads_write(evri_pg_heads *h, evrepl_status *st)
{
    char tmp[4096];
    json_object *root = json_object_new_object();
    json_object *reps = json_object_new_object();
    json_object_object_add(root, "format", json_object_new_string(HEADS_FORMAT));
    for (size_t i = 0; i < h->n_all; i++) {
        if (!h->heads[i].known) {
            continue;
        }
        char hex[2 * EVREPL_HASH_BYTES + 1];
        json_object *e = json_object_new_object();
        sodium_bin2hex(hex, sizeof(hex), h->heads[i].hash, EVREPL_HASH_BYTES);
        json_object_object_add(e, "sequence", json_object_new_uint64(h->heads[i].seq));
        json_object_object_add(e, "hash", json_object_new_string(hex));
        json_object_object_add(reps, h->heads[i].id, e);
    }
    json_object_object_add(root, "replicas", reps);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
    evrepl_code code = EVREPL_CODE_OK;
    snprintf(tmp, sizeof(tmp), "%s.tmp", h->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot write state file %s: %s", tmp,
                               strerror(errno));
        goto out;
    }
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    bool ok = w == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0 || !ok) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot write state file %s: %s", tmp,
                               strerror(err));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, h->path) != 0) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot replace state file %s: %s",
                               h->path, strerror(errno));
        unlink(tmp);
    }
out:
    json_object_put(root);
    return code;
}

evrepl_code
evri_pg_heads_flush(evri_pg_heads *h, evrepl_status *st)
{
    evrepl_code code = EVREPL_CODE_OK;
    pthread_mutex_lock(&h->mu);
    if (h->path != NULL && h->dirty) {
        code = heads_write(h, st);
        if (code == EVREPL_CODE_OK) {
            h->dirty = false;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return code == EVREPL_CODE_OK ? evri_status_ok(st) : code;
}

void
evri_pg_heads_close(evri_pg_heads *h)
{
    if (h == NULL) {
        return;
    }
    evrepl_status st;
    if (h->heads != NULL && evri_pg_heads_flush(h, &st) != EVREPL_CODE_OK) {
        // The caller logged flush failures while running; at exit there is nobody to tell.
    }
    for (size_t i = 0; i < h->n_all && h->heads != NULL; i++) {
        free(h->heads[i].id);
    }
    free(h->heads);
    free(h->path);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
