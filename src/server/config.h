// evrepld's settings: defaults, one setter shared by command-line flags and the config file
// (libconfig syntax, one setting per flag name), validation, and a masked printout.
//
// Thread safety: a config belongs to the thread that builds it; the server copies what it
// keeps.
#ifndef EVREPL_SERVER_CONFIG_H
#define EVREPL_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include "evrepl/status.h"

#define EVRI_DEFAULT_LISTEN             "tcp://127.0.0.1:7450"
#define EVRI_DEFAULT_MAX_MESSAGE_BYTES  4194304u
#define EVRI_DEFAULT_TIMEOUT_MS         5000u
#define EVRI_DEFAULT_MAX_TIMEOUT_MS     600000u
#define EVRI_DEFAULT_MAX_METADATA_BYTES 8192u
#define EVRI_DEFAULT_IPC_MODE           0600u

typedef struct evri_config {
    char **listen;
    size_t n_listen;
    char *backend; // "stub" or "postgres"
    char **stub_replicas;
    size_t n_stub_replicas;
    evrepl_code stub_fail_code; // OK: the stub never fails
    uint64_t stub_fail_after;
    char *primary;            // secret: may hold a password
    char **replica_ids;       // parallel to replica_conninfos, configuration order
    char **replica_conninfos; // secret
    size_t n_replicas;
    unsigned workers;   // 0: cores x 2
    unsigned max_queue; // 0: workers x 8
    size_t max_message_bytes;
    size_t max_metadata_bytes;
    uint32_t default_timeout_ms;
    uint32_t max_timeout_ms;
    char *receipt_key;
    char *state_file;
    char *trusted_keys;
    unsigned ipc_mode;
    uint64_t *ipc_allow_uids;
    size_t n_ipc_allow_uids;
    char *tokens;
    char *tls_cert;
    char *tls_key;
    char *tls_ca;
    char *metrics_listen;
    evri_log_format log_format;
    evri_log_level log_level;
} evri_config;

// Sets every default (listen stays empty: evri_config_finish() adds the default URL).
void evri_config_init(evri_config *cfg);
// Frees everything. Idempotent.
void evri_config_clear(evri_config *cfg);

// Applies one setting by its flag name without the dashes ("listen", "max-message-bytes").
// Repeatable settings (listen, replica, ipc-allow-uid, stub-replicas) append. INVALID_ARGUMENT
// names the setting and why; the message never repeats a conninfo.
EVREPL_NODISCARD evrepl_code evri_config_set(evri_config *cfg, const char *name, const char *value,
                                             evrepl_status *st);

// Empties a repeatable setting, so that flags replace what a config file listed.
void evri_config_reset_list(evri_config *cfg, const char *name);

// True for settings that may be given more than once.
bool evri_config_is_list(const char *name);

// Reads a config file: each setting is a flag name with a scalar value, or a list of them for
// repeatable settings. INVALID_ARGUMENT names the file and line.
EVREPL_NODISCARD evrepl_code evri_config_load_file(evri_config *cfg, const char *path,
                                                   evrepl_status *st);

// Fills derived defaults (listen URL, workers, queue) and checks the settings fit together.
EVREPL_NODISCARD evrepl_code evri_config_finish(evri_config *cfg, evrepl_status *st);

// Prints the effective settings, one `name = value` per line, passwords in conninfos masked.
void evri_config_print(const evri_config *cfg, FILE *f);

#endif // EVREPL_SERVER_CONFIG_H
