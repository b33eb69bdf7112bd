#include "server/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "adapters/postgres/conninfo.h"
#include "domain/status.h"
#include "domain/strv.h"
#include "transport/metrics_http.h"

void
evri_config_init(evri_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->backend = evri_strdup("stub");
    cfg->max_message_bytes = EVRI_DEFAULT_MAX_MESSAGE_BYTES;
    cfg->max_metadata_bytes = EVRI_DEFAULT_MAX_METADATA_BYTES;
    cfg->default_timeout_ms = EVRI_DEFAULT_TIMEOUT_MS;
    cfg->max_timeout_ms = EVRI_DEFAULT_MAX_TIMEOUT_MS;
    cfg->ipc_mode = EVRI_DEFAULT_IPC_MODE;
    cfg->log_format = EVRI_LOG_TEXT;
    cfg->log_level = EVRI_LOG_INFO;
}

static void
free_str(char **p)
{
    free(*p);
    *p = NULL;
}

void
evri_config_clear(evri_config *cfg)
{
    evri_strv_free(&cfg->listen, &cfg->n_listen);
    evri_strv_free(&cfg->stub_replicas, &cfg->n_stub_replicas);
    size_t n = cfg->n_replicas;
    evri_strv_free(&cfg->replica_ids, &cfg->n_replicas);
    cfg->n_replicas = n;
    evri_strv_free(&cfg->replica_conninfos, &cfg->n_replicas);
    free_str(&cfg->backend);
    free_str(&cfg->primary);
    free_str(&cfg->receipt_key);
    free_str(&cfg->state_file);
    free_str(&cfg->trusted_keys);
    free_str(&cfg->tokens);
    free_str(&cfg->tls_cert);
    free_str(&cfg->tls_key);
    free_str(&cfg->tls_ca);
    free_str(&cfg->metrics_listen);
    free(cfg->ipc_allow_uids);
    cfg->ipc_allow_uids = NULL;
    cfg->n_ipc_allow_uids = 0;
}

static evrepl_code
bad(evrepl_status *st, const char *name, const char *why)
{
    return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "--%s: %s", name, why);
}

static evrepl_code
oom(evrepl_status *st)
{
    return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory reading the settings");
}

// Parses an unsigned integer in base (10 or 8) within [min, max].
static bool
parse_u64(const char *s, int base, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ') {
        return false;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static evrepl_code
set_str(char **dst, const char *value, evrepl_status *st)
{
    char *d = evri_strdup(value);
    if (d == NULL) {
        return oom(st);
    }
    free(*dst);
    *dst = d;
    return evri_status_ok(st);
}

static evrepl_code
set_replica(evri_config *cfg, const char *value, evrepl_status *st)
{
    const char *eq = strchr(value, '=');
    if (eq == NULL || eq == value) {
        return bad(st, "replica", "want ID=CONNINFO");
    }
    size_t id_len = (size_t)(eq - value);
    if (id_len > 64) {
        return bad(st, "replica", "replica id longer than 64 characters");
    }
    char id[65];
    memcpy(id, value, id_len);
    id[id_len] = '\0';
    for (size_t i = 0; i < id_len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                   "--replica: replica id '%s' may hold only letters, digits and "
                                   "-_.",
                                   id);
        }
    }
    for (size_t i = 0; i < cfg->n_replicas; i++) {
        if (strcmp(cfg->replica_ids[i], id) == 0) {
            return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                   "--replica: replica id '%s' is configured twice", id);
        }
    }
    if (!evri_pg_conninfo_valid(eq + 1)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "--replica: the conninfo of replica '%s' is not valid libpq "
                               "syntax",
                               id);
    }
    size_t n = cfg->n_replicas;
    if (!evri_strv_push(&cfg->replica_ids, &n, id)) {
        return oom(st);
    }
    n = cfg->n_replicas;
    if (!evri_strv_push(&cfg->replica_conninfos, &n, eq + 1)) {
        free(cfg->replica_ids[cfg->n_replicas]); // undo the id: the lists stay parallel
        return oom(st);
    }
    cfg->n_replicas++;
    return evri_status_ok(st);
}

static evrepl_code
set_stub_replicas(evri_config *cfg, const char *value, evrepl_status *st)
{
    const char *p = value;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        if (len == 0 || len > 64) {
            return bad(st, "stub-replicas", "want ID,ID,... with ids of 1-64 characters");
        }
        char id[65];
        memcpy(id, p, len);
        id[len] = '\0';
        if (!evri_strv_push(&cfg->stub_replicas, &cfg->n_stub_replicas, id)) {
            return oom(st);
        }
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                return bad(st, "stub-replicas", "trailing comma");
            }
        }
    }
    return evri_status_ok(st);
}

static evrepl_code
set_stub_fail(evri_config *cfg, const char *value, evrepl_status *st)
{
    for (int c = 1; c <= EVREPL_CODE_UNAUTHENTICATED; c++) {
        if (strcmp(value, evrepl_code_name((evrepl_code)c)) == 0) {
            cfg->stub_fail_code = (evrepl_code)c;
            return evri_status_ok(st);
        }
    }
    uint64_t v;
    if (parse_u64(value, 10, 1, 16, &v)) {
        cfg->stub_fail_code = (evrepl_code)v;
        return evri_status_ok(st);
    }
    return bad(st, "stub-fail", "want a status code name such as UNAVAILABLE, or its number");
}

static const char *const list_settings[] = {"listen", "replica", "ipc-allow-uid", "stub-replicas"};

bool
evri_config_is_list(const char *name)
{
    for (size_t i = 0; i < sizeof(list_settings) / sizeof(list_settings[0]); i++) {
        if (strcmp(name, list_settings[i]) == 0) {
            return true;
        }
    }
    return false;
}

void
evri_config_reset_list(evri_config *cfg, const char *name)
{
    if (strcmp(name, "listen") == 0) {
        evri_strv_free(&cfg->listen, &cfg->n_listen);
    } else if (strcmp(name, "replica") == 0) {
        size_t n = cfg->n_replicas;
        evri_strv_free(&cfg->replica_ids, &n);
        evri_strv_free(&cfg->replica_conninfos, &cfg->n_replicas);
    } else if (strcmp(name, "ipc-allow-uid") == 0) {
        free(cfg->ipc_allow_uids);
        cfg->ipc_allow_uids = NULL;
        cfg->n_ipc_allow_uids = 0;
    } else if (strcmp(name, "stub-replicas") == 0) {
        evri_strv_free(&cfg->stub_replicas, &cfg->n_stub_replicas);
    }
}

evrepl_code
evri_config_set(evri_config *cfg, const char *name, const char *value, evrepl_status *st)
{
    uint64_t v;
    if (strcmp(name, "listen") == 0) {
        if (value[0] == '\0') {
            return bad(st, name, "empty URL");
        }
        return evri_strv_push(&cfg->listen, &cfg->n_listen, value) ? evri_status_ok(st) : oom(st);
    }
    if (strcmp(name, "backend") == 0) {
        if (strcmp(value, "stub") != 0 && strcmp(value, "postgres") != 0) {
            return bad(st, name, "want stub or postgres");
        }
        return set_str(&cfg->backend, value, st);
    }
    if (strcmp(name, "stub-replicas") == 0) {
        return set_stub_replicas(cfg, value, st);
    }
    if (strcmp(name, "stub-fail") == 0) {
        return set_stub_fail(cfg, value, st);
    }
    if (strcmp(name, "stub-fail-after") == 0) {
        if (!parse_u64(value, 10, 0, UINT64_MAX, &v)) {
            return bad(st, name, "want a number of calls");
        }
        cfg->stub_fail_after = v;
        return evri_status_ok(st);
    }
    if (strcmp(name, "primary") == 0) {
        if (!evri_pg_conninfo_valid(value)) {
            return bad(st, name, "the conninfo is not valid libpq syntax");
        }
        return set_str(&cfg->primary, value, st);
    }
    if (strcmp(name, "replica") == 0) {
        return set_replica(cfg, value, st);
    }
    if (strcmp(name, "workers") == 0) {
        if (!parse_u64(value, 10, 1, 1024, &v)) {
            return bad(st, name, "want a number from 1 to 1024");
        }
        cfg->workers = (unsigned)v;
        return evri_status_ok(st);
    }
    if (strcmp(name, "max-queue") == 0) {
        if (!parse_u64(value, 10, 1, 65536, &v)) {
            return bad(st, name, "want a number from 1 to 65536");
        }
        cfg->max_queue = (unsigned)v;
        return evri_status_ok(st);
    }
    if (strcmp(name, "max-message-bytes") == 0) {
        if (!parse_u64(value, 10, 1024, 1u << 30, &v)) {
            return bad(st, name, "want a number of bytes from 1024 to 1073741824");
        }
        cfg->max_message_bytes = (size_t)v;
        return evri_status_ok(st);
    }
    if (strcmp(name, "max-metadata-bytes") == 0) {
        if (!parse_u64(value, 10, 64, 1u << 20, &v)) {
            return bad(st, name, "want a number of bytes from 64 to 1048576");
        }
        cfg->max_metadata_bytes = (size_t)v;
        return evri_status_ok(st);
    }
    if (strcmp(name, "default-timeout-ms") == 0 || strcmp(name, "max-timeout-ms") == 0) {
        if (!parse_u64(value, 10, 1, 86400000, &v)) {
            return bad(st, name, "want milliseconds from 1 to 86400000");
        }
        *(name[0] == 'd' ? &cfg->default_timeout_ms : &cfg->max_timeout_ms) = (uint32_t)v;
        return evri_status_ok(st);
    }
    if (strcmp(name, "receipt-key") == 0) {
        return set_str(&cfg->receipt_key, value, st);
    }
    if (strcmp(name, "state-file") == 0) {
        return set_str(&cfg->state_file, value, st);
    }
    if (strcmp(name, "trusted-keys") == 0) {
        return set_str(&cfg->trusted_keys, value, st);
    }
    if (strcmp(name, "ipc-mode") == 0) {
        if (!parse_u64(value, 8, 0, 0777, &v)) {
            return bad(st, name, "want an octal file mode such as 0600");
        }
        cfg->ipc_mode = (unsigned)v;
        return evri_status_ok(st);
    }
    if (strcmp(name, "ipc-allow-uid") == 0) {
        if (!parse_u64(value, 10, 0, UINT32_MAX, &v)) {
            return bad(st, name, "want a numeric uid");
        }
        uint64_t *u = realloc(cfg->ipc_allow_uids, (cfg->n_ipc_allow_uids + 1) * sizeof(*u));
        if (u == NULL) {
            return oom(st);
        }
        u[cfg->n_ipc_allow_uids++] = v;
        cfg->ipc_allow_uids = u;
        return evri_status_ok(st);
    }
    if (strcmp(name, "tokens") == 0) {
        return set_str(&cfg->tokens, value, st);
    }
    if (strcmp(name, "tls-cert") == 0) {
        return set_str(&cfg->tls_cert, value, st);
    }
    if (strcmp(name, "tls-key") == 0) {
        return set_str(&cfg->tls_key, value, st);
    }
    if (strcmp(name, "tls-ca") == 0) {
        return set_str(&cfg->tls_ca, value, st);
    }
    if (strcmp(name, "metrics-listen") == 0) {
        evrepl_code code = evri_metrics_http_url_check(value, st);
        return code == EVREPL_CODE_OK ? set_str(&cfg->metrics_listen, value, st) : code;
    }
    if (strcmp(name, "log-format") == 0) {
        return evri_log_format_parse(value, &cfg->log_format) ? evri_status_ok(st)
                                                              : bad(st, name, "want text or json");
    }
    if (strcmp(name, "log-level") == 0) {
        return evri_log_level_parse(value, &cfg->log_level)
                   ? evri_status_ok(st)
                   : bad(st, name, "want debug, info, warn or error");
    }
    char q[80];
    evri_quote_untrusted(q, sizeof(q), name, strlen(name));
    return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "unknown setting '%s'", q);
}

// Renders one scalar libconfig setting as the text a flag would carry.
static bool
scalar_text(const config_setting_t *s, char *buf, size_t size, const char **out)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING:
        *out = config_setting_get_string(s);
        return *out != NULL;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, size, "%lld", config_setting_get_int64(s));
        *out = buf;
        return true;
    case CONFIG_TYPE_BOOL:
        snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
        *out = buf;
        return true;
    default:
        return false;
    }
}

evrepl_code
evri_config_load_file(evri_config *cfg, const char *path, evrepl_status *st)
{
    config_t c;
    evrepl_code code = EVREPL_CODE_OK;
    if (access(path, R_OK) != 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "cannot read config file %s: %s",
                               path, strerror(errno));
    }
    config_init(&c);
    if (config_read_file(&c, path) != CONFIG_TRUE) {
        code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT, "%s line %d: %s", path,
                               config_error_line(&c), config_error_text(&c));
        goto out;
    }
    config_setting_t *root = config_root_setting(&c);
    for (int i = 0; i < config_setting_length(root); i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        char buf[32];
        const char *text;
        int type = config_setting_type(s);
        if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST) {
            if (!evri_config_is_list(name)) {
                code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                       "%s line %d: %s takes one value, not a list", path,
                                       config_setting_source_line(s), name);
                goto out;
            }
            for (int k = 0; k < config_setting_length(s); k++) {
                config_setting_t *e = config_setting_get_elem(s, (unsigned)k);
                if (!scalar_text(e, buf, sizeof(buf), &text)) {
                    code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                           "%s line %d: %s lists something that is not a value",
                                           path, config_setting_source_line(e), name);
                    goto out;
                }
                if ((code = evri_config_set(cfg, name, text, st)) != EVREPL_CODE_OK) {
                    goto located;
                }
            }
            continue;
        }
        if (!scalar_text(s, buf, sizeof(buf), &text)) {
            code = evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                                   "%s line %d: %s must be a string, number or boolean", path,
                                   config_setting_source_line(s), name);
            goto out;
        }
        if ((code = evri_config_set(cfg, name, text, st)) != EVREPL_CODE_OK) {
            goto located;
        }
        continue;
    located:
        if (st != NULL) {
            char msg[EVREPL_STATUS_MESSAGE_MAX];
            snprintf(msg, sizeof(msg), "%s", st->message);
            evri_status_set(st, code, "%s line %d: %s", path, config_setting_source_line(s), msg);
        }
        goto out;
    }
out:
    config_destroy(&c);
    return code;
}

evrepl_code
evri_config_finish(evri_config *cfg, evrepl_status *st)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cfg->n_listen == 0 && !evri_strv_push(&cfg->listen, &cfg->n_listen, EVRI_DEFAULT_LISTEN)) {
        return oom(st);
    }
    if (cfg->workers == 0) {
        cfg->workers = (unsigned)(cores > 0 ? cores * 2 : 2);
    }
    if (cfg->max_queue == 0) {
        cfg->max_queue = cfg->workers * 8;
    }
    if (cfg->default_timeout_ms > cfg->max_timeout_ms) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "--default-timeout-ms (%u) exceeds --max-timeout-ms (%u)",
                               cfg->default_timeout_ms, cfg->max_timeout_ms);
    }
    bool pg = strcmp(cfg->backend, "postgres") == 0;
    if (pg && cfg->primary == NULL) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "--backend postgres needs --primary CONNINFO");
    }
    if (!pg && (cfg->primary != NULL || cfg->n_replicas > 0)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "--primary and --replica need --backend postgres");
    }
    if (pg && cfg->n_stub_replicas > 0) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "--stub-replicas is for --backend stub only");
    }
    bool tls = false;
    for (size_t i = 0; i < cfg->n_listen; i++) {
        tls = tls || strncmp(cfg->listen[i], "tls+tcp", 7) == 0;
    }
    if (tls && (cfg->tls_cert == NULL || cfg->tls_key == NULL || cfg->tls_ca == NULL)) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "a tls+tcp:// listener needs --tls-cert, --tls-key and --tls-ca");
    }
    return evri_status_ok(st);
}

static void
print_opt(FILE *f, const char *name, const char *value)
{
    if (value != NULL) {
        fprintf(f, "%s = %s\n", name, value);
    }
}

void
evri_config_print(const evri_config *cfg, FILE *f)
{
    static const char *const fmt_names[] = {"text", "json"};
    static const char *const lvl_names[] = {"debug", "info", "warn", "error"};
    char red[1024];
    for (size_t i = 0; i < cfg->n_listen; i++) {
        print_opt(f, "listen", cfg->listen[i]);
    }
    print_opt(f, "backend", cfg->backend);
    for (size_t i = 0; i < cfg->n_stub_replicas; i++) {
        print_opt(f, "stub-replicas", cfg->stub_replicas[i]);
    }
    if (cfg->stub_fail_code != EVREPL_CODE_OK) {
        print_opt(f, "stub-fail", evrepl_code_name(cfg->stub_fail_code));
        fprintf(f, "stub-fail-after = %" PRIu64 "\n", cfg->stub_fail_after);
    }
    if (cfg->primary != NULL) {
        evri_pg_conninfo_redact(cfg->primary, red, sizeof(red));
        print_opt(f, "primary", red);
    }
    for (size_t i = 0; i < cfg->n_replicas; i++) {
        evri_pg_conninfo_redact(cfg->replica_conninfos[i], red, sizeof(red));
        fprintf(f, "replica = %s=%s\n", cfg->replica_ids[i], red);
    }
    fprintf(f, "workers = %u\n", cfg->workers);
    fprintf(f, "max-queue = %u\n", cfg->max_queue);
    fprintf(f, "max-message-bytes = %zu\n", cfg->max_message_bytes);
    fprintf(f, "max-metadata-bytes = %zu\n", cfg->max_metadata_bytes);
    fprintf(f, "default-timeout-ms = %u\n", cfg->default_timeout_ms);
    fprintf(f, "max-timeout-ms = %u\n", cfg->max_timeout_ms);
    print_opt(f, "receipt-key", cfg->receipt_key);
    print_opt(f, "state-file", cfg->state_file);
    print_opt(f, "trusted-keys", cfg->trusted_keys);
    fprintf(f, "ipc-mode = %04o\n", cfg->ipc_mode);
    for (size_t i = 0; i < cfg->n_ipc_allow_uids; i++) {
        fprintf(f, "ipc-allow-uid = %" PRIu64 "\n", cfg->ipc_allow_uids[i]);
    }
    print_opt(f, "tokens", cfg->tokens);
    print_opt(f, "tls-cert", cfg->tls_cert);
    print_opt(f, "tls-key", cfg->tls_key);
    print_opt(f, "tls-ca", cfg->tls_ca);
    print_opt(f, "metrics-listen", cfg->metrics_listen);
    print_opt(f, "log-format", fmt_names[cfg->log_format]);
    print_opt(f, "log-level", lvl_names[cfg->log_level]);
}
