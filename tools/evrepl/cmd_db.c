// Database commands: migrate, register-key, append. They talk to PostgreSQL directly (through
// src/adapters/postgres/admin.h and writer.h), not to evrepld.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "adapters/postgres/admin.h"
#include "adapters/postgres/writer.h"
#include "cli.h"
#include "common/clock.h"
#include "common/keyfile.h"
#include "domain/keys.h"
#include "domain/status.h"

// Prints one JSON object and a newline.
static void
db_print_json(evri_cli *cli, json_object *o)
{
    fprintf(cli->out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

// --- migrate --------------------------------------------------------------------------------

typedef struct migrate_ctx {
    evri_cli *cli;
    json_object *applied; // --json: names applied
} migrate_ctx;

static void
db_on_migrated(void *arg, const evri_migration *m)
{
    migrate_ctx *c = arg;
    if (c->applied != NULL) {
        json_object_array_add(c->applied, json_object_new_string(m->name));
    } else {
        fprintf(c->cli->out, "applied %s\n", m->name);
        fflush(c->cli->out);
    }
}

int
evri_cmd_migrate(evri_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt != 'd') {
            return evri_cli_usage_error(cli, "migrate", "unknown or incomplete option '%s'",
                                        argv[optind - 1]);
        }
        db = optarg;
    }
    if (db == NULL || optind != argc) {
        return evri_cli_usage_error(cli, "migrate", "want --db CONNINFO and nothing else");
    }
    migrate_ctx ctx = {.cli = cli, .applied = cli->json ? json_object_new_array() : NULL};
    evri_pg_migrate_result r;
    evrepl_status st;
    evrepl_code code = evri_pg_migrate(db, db_on_migrated, &ctx, &r, &st);
    if (code != EVREPL_CODE_OK) {
        json_object_put(ctx.applied);
        return evri_cli_fail(cli, &st);
    }
    if (cli->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "applied", ctx.applied);
        json_object_object_add(o, "schema_version", json_object_new_string(r.version));
        db_print_json(cli, o);
    } else if (r.n_applied == 0) {
        fprintf(cli->out, "schema version %s is current: nothing to apply\n", r.version);
    } else {
        fprintf(cli->out, "schema version %s: applied %zu migration%s\n", r.version, r.n_applied,
                r.n_applied == 1 ? "" : "s");
    }
    return EVRI_EXIT_OK;
}

// --- register-key ---------------------------------------------------------------------------

// Reads the public key from a secret key file (evrepl keygen's FILE) or from its FILE.pub.
static evrepl_code
db_read_public_key(const char *path, uint8_t pk[EVREPL_PUBLIC_KEY_BYTES], evrepl_status *st)
{
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".pub") == 0) {
        evri_keyset ks = {0};
        evrepl_code code = evri_keyset_read(&ks, path, st);
        if (code != EVREPL_CODE_OK) {
            return code;
        }
        if (ks.n != 1) {
            evri_keyset_clear(&ks);
            return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                   "%s should hold exactly one public key", path);
        }
        memcpy(pk, ks.keys[0], EVREPL_PUBLIC_KEY_BYTES);
        evri_keyset_clear(&ks);
        return EVREPL_CODE_OK;
    }
    evri_signer *s = NULL;
    evrepl_code code = evri_keyfile_read(&s, path, st);
    if (code != EVREPL_CODE_OK) {
        return code;
    }
    memcpy(pk, evri_signer_public_key(s), EVREPL_PUBLIC_KEY_BYTES);
    evri_signer_destroy(s);
    return EVREPL_CODE_OK;
}

int
evri_cmd_register_key(evri_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"key", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    const char *db_conninfo = NULL, *key = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            db_conninfo = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        default:
            return evri_cli_usage_error(cli, "register-key", "unknown or incomplete option '%s'",
                                        argv[optind - 1]);
        }
    }
    if (db_conninfo == NULL || key == NULL || optind != argc) {
        return evri_cli_usage_error(cli, "register-key", "want --db CONNINFO --key FILE");
    }
    uint8_t pk[EVREPL_PUBLIC_KEY_BYTES];
    char id[EVRI_KEY_ID_LEN + 1];
    evrepl_status st;
    if (!evri_crypto_init()) {
        evri_status_set(&st, EVREPL_CODE_INTERNAL, "libsodium cannot be initialised");
        return evri_cli_fail(cli, &st);
    }
    if (db_read_public_key(key, pk, &st) != EVREPL_CODE_OK) {
        return evri_cli_usage_error(cli, "register-key", "%s", st.message);
    }
    evri_key_id(pk, id);
    evri_pg_db *db = NULL;
    bool inserted = false;
    evrepl_code code = evri_pg_db_open(&db, db_conninfo, &st);
    if (code == EVREPL_CODE_OK) {
        code = evri_pg_db_register_key(db, pk, &inserted, &st);
    }
    evri_pg_db_close(db);
    if (code != EVREPL_CODE_OK) {
        return evri_cli_fail(cli, &st);
    }
    if (cli->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "key_id", json_object_new_string(id));
        json_object_object_add(o, "inserted", json_object_new_boolean(inserted));
        db_print_json(cli, o);
    } else {
        fprintf(cli->out,
                inserted ? "registered signing key %s\n"
                         : "signing key %s was already registered\n",
                id);
    }
    return EVRI_EXIT_OK;
}

// --- append ---------------------------------------------------------------------------------

// Reads a whole file ("-": standard input) of at most max bytes into *out (malloc'd).
static evrepl_code
db_read_file(const char *path, size_t max, uint8_t **out, size_t *len, evrepl_status *st)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        return evri_status_set(st, EVREPL_CODE_NOT_FOUND, "cannot open %s: %s", path,
                               strerror(errno));
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    evrepl_code code = EVREPL_CODE_OK;
    while (buf != NULL) {
        if (n == cap) {
            if (cap > max) {
                code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                       "%s is larger than %zu bytes", path, max);
                break;
            }
            uint8_t *b = realloc(buf, cap * 2);
            if (b == NULL) {
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                code = evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot read %s", path);
            }
            break;
        }
    }
    if (buf == NULL && code == EVREPL_CODE_OK) {
        code = evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading %s", path);
    }
    if (code == EVREPL_CODE_OK && n > max) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "%s is larger than %zu bytes",
                               path, max);
    }
    if (!is_stdin) {
        fclose(f);
    }
    if (code != EVREPL_CODE_OK) {
        free(buf);
        return code;
    }
    *out = buf;
    *len = n;
    return EVREPL_CODE_OK;
}

typedef struct append_ctx {
    evri_cli *cli;
    uint64_t total;
    uint64_t done;
    uint64_t first_sequence, last_sequence;
    bool progress;         // stderr is a terminal
    uint64_t started_ns;   // for the rate shown
    uint64_t last_draw_ns; // progress is redrawn at most every 100 ms
    json_object *ids;      // --json: the ids
} append_ctx;

static void
append_draw(append_ctx *c, bool final)
{
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    uint64_t now = evri_now_ns();
    if (!final && now - c->last_draw_ns < 100 * EVRI_NS_PER_MS) {
        return;
    }
    c->last_draw_ns = now;
    size_t fill = c->total > 0 ? (size_t)(c->done * WIDTH / c->total) : WIDTH;
    for (size_t i = 0; i < WIDTH; i++) {
        bar[i] = i < fill ? '#' : '.';
    }
    bar[WIDTH] = '\0';
    double secs = (double)(now - c->started_ns) / 1e9;
    fprintf(c->cli->err, "\r[%s] %llu/%llu events, %.0f/s%s", bar, (unsigned long long)c->done,
            (unsigned long long)c->total, secs > 0 ? (double)c->done / secs : 0.0,
            final ? "\n" : "");
    fflush(c->cli->err);
}

static evrepl_code
db_on_batch(void *arg, const evri_event *events, size_t n, evrepl_status *st)
{
    append_ctx *c = arg;
    for (size_t i = 0; i < n; i++) {
        char id[EVREPL_UUID_STR_LEN + 1];
        evrepl_uuid_format(events[i].event_id, id);
        if (c->ids != NULL) {
            json_object_array_add(c->ids, json_object_new_string(id));
        } else {
            fprintf(c->cli->out, "%s\n", id);
        }
    }
    if (n > 0) {
        if (c->done == 0) {
            c->first_sequence = events[0].sequence;
        }
        c->last_sequence = events[n - 1].sequence;
    }
    // Ids of committed events reach stdout batch by batch, so a reader (or a crash) never
    // loses the ids of what is already in the log.
    if (fflush(c->cli->out) != 0) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot write the event ids: %s",
                               strerror(errno));
    }
    c->done += n;
    if (c->progress) {
        append_draw(c, false);
    }
    return EVREPL_CODE_OK;
}

int
evri_cmd_append(evri_cli *cli, int argc, char **argv)
{
    enum { O_DB = 1, O_KEY, O_TYPE, O_PAYLOAD, O_PAYLOAD_FILE, O_COUNT, O_STATS };
    static const struct option opts[] = {
        {"db", required_argument, NULL, O_DB},
        {"key", required_argument, NULL, O_KEY},
        {"type", required_argument, NULL, O_TYPE},
        {"payload", required_argument, NULL, O_PAYLOAD},
        {"payload-file", required_argument, NULL, O_PAYLOAD_FILE},
        {"count", required_argument, NULL, O_COUNT},
        {"stats", no_argument, NULL, O_STATS},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *key = NULL, *type = NULL, *payload_text = NULL, *payload_file = NULL;
    uint32_t count = 1;
    bool stats = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case O_DB:
            db = optarg;
            break;
        case O_KEY:
            key = optarg;
            break;
        case O_TYPE:
            type = optarg;
            break;
        case O_PAYLOAD:
            payload_text = optarg;
            break;
        case O_PAYLOAD_FILE:
            payload_file = optarg;
            break;
        case O_COUNT:
            if (!evri_cli_parse_u32(optarg, &count) || count == 0) {
                return evri_cli_usage_error(cli, "append", "--count wants a number > 0, not '%s'",
                                            optarg);
            }
            break;
        case O_STATS:
            stats = true;
            break;
        default:
            return evri_cli_usage_error(cli, "append", "unknown or incomplete option '%s'",
                                        argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return evri_cli_usage_error(cli, "append", "unexpected argument '%s'", argv[optind]);
    }
    if (db == NULL || key == NULL || type == NULL) {
        return evri_cli_usage_error(cli, "append", "want --db, --key and --type");
    }
    if ((payload_text == NULL) == (payload_file == NULL)) {
        return evri_cli_usage_error(cli, "append",
                                    "want exactly one of --payload and "
                                    "--payload-file");
    }
    evri_event probe;
    evrepl_status st;
    if (evri_event_set_type(&probe, type, &st) != EVREPL_CODE_OK) {
        return evri_cli_usage_error(cli, "append", "--type: %s", st.message);
    }

    int rc = EVRI_EXIT_ERROR;
    uint8_t *file_payload = NULL;
    size_t payload_len = 0;
    evri_signer *signer = NULL;
    evri_pg_writer *w = NULL;
    append_ctx ctx = {.cli = cli, .total = count, .ids = NULL};
    const uint8_t *payload = (const uint8_t *)payload_text;
    if (payload_file != NULL) {
        if (db_read_file(payload_file, EVRI_PG_WRITER_PAYLOAD_MAX, &file_payload, &payload_len,
                         &st) != EVREPL_CODE_OK) {
            rc = evri_cli_usage_error(cli, "append", "--payload-file: %s", st.message);
            goto out;
        }
        payload = file_payload;
    } else {
        payload_len = strlen(payload_text);
    }
    if (evri_keyfile_read(&signer, key, &st) != EVREPL_CODE_OK) {
        rc = evri_cli_usage_error(cli, "append", "--key: %s", st.message);
        goto out;
    }
    if (evri_pg_writer_open(&w, db, signer, &st) != EVREPL_CODE_OK) {
        rc = evri_cli_fail(cli, &st);
        goto out;
    }
    ctx.progress = count > 1 && isatty(fileno(cli->err));
    ctx.started_ns = evri_now_ns();
    ctx.ids = cli->json ? json_object_new_array() : NULL;
    evrepl_code code =
        evri_pg_writer_append(w, type, payload, payload_len, count, db_on_batch, &ctx, &st);
    if (ctx.progress) {
        append_draw(&ctx, true);
    }
    if (stats) {
        evri_pg_writer_stats s;
        evri_pg_writer_stats_get(w, &s);
        double wall = (double)(evri_now_ns() - ctx.started_ns) / 1e9;
        fprintf(cli->err,
                "appended %llu events in %llu statements in %.3f s: %.0f events/s (signing "
                "%.3f s = %.0f events/s; inserts %.3f s = %.0f events/s; blocked on the "
                "database %.3f s)\n",
                (unsigned long long)s.events, (unsigned long long)s.batches, wall,
                wall > 0 ? (double)s.events / wall : 0.0, (double)s.sign_ns / 1e9,
                s.sign_ns > 0 ? (double)s.events * 1e9 / (double)s.sign_ns : 0.0,
                (double)s.insert_ns / 1e9,
                s.insert_ns > 0 ? (double)s.events * 1e9 / (double)s.insert_ns : 0.0,
                (double)s.db_ns / 1e9);
    }
    if (code != EVREPL_CODE_OK) {
        if (ctx.done > 0) {
            fprintf(cli->err, "evrepl: %llu of %u events were appended before the error\n",
                    (unsigned long long)ctx.done, count);
        }
        rc = evri_cli_fail(cli, &st);
        goto out;
    }
    if (ctx.ids != NULL) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "event_ids", ctx.ids);
        json_object_object_add(o, "first_sequence",
                               json_object_new_int64((int64_t)ctx.first_sequence));
        json_object_object_add(o, "last_sequence",
                               json_object_new_int64((int64_t)ctx.last_sequence));
        ctx.ids = NULL;
        db_print_json(cli, o);
    }
    rc = EVRI_EXIT_OK;
out:
    json_object_put(ctx.ids);
    evri_pg_writer_close(w);
    evri_signer_destroy(signer);
    free(file_payload);
    return rc;
}
