#include "output.h"

#include <inttypes.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "common/clock.h"
#include "domain/replica_state.h"

void
evri_hex(char *out, const uint8_t *p, size_t len)
{
    if (len == 0) {
        out[0] = '\0';
        return;
    }
    sodium_bin2hex(out, len * 2 + 1, p, len);
}

const char *
evri_sig_check_name(const evri_sig_check *c)
{
    switch (c->code) {
    case EVREPL_CODE_OK:
        return "VALID";
    case EVREPL_CODE_FAILED_PRECONDITION:
        return "UNSIGNED";
    case EVREPL_CODE_INVALID_ARGUMENT:
        return "INVALID";
    default:
        return "UNCHECKED";
    }
}

static json_object *
j_hex(const uint8_t *p, size_t len)
{
    char buf[2 * 64 + 1];
    if (len > 64) {
        len = 64;
    }
    evri_hex(buf, p, len);
    return json_object_new_string(buf);
}

static json_object *
j_time(evrepl_timestamp t)
{
    char buf[32];
    evri_timestamp_format(t, buf);
    return json_object_new_string(buf);
}

static json_object *
j_strv(char *const *v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(a, json_object_new_string(v[i]));
    }
    return a;
}

static void
j_print(FILE *f, json_object *o)
{
    fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void
j_sig(json_object *o, const evri_sig_check *sig)
{
    if (sig == NULL) {
        return;
    }
    json_object *s = json_object_new_object();
    json_object_object_add(s, "result", json_object_new_string(evri_sig_check_name(sig)));
    json_object_object_add(s, "message", json_object_new_string(sig->message));
    if (sig->key_source != NULL) {
        json_object_object_add(s, "key_source", json_object_new_string(sig->key_source));
    }
    json_object_object_add(o, "signature_check", s);
}

void
evri_out_receipt_json(FILE *f, const evrepl_receipt *r, const evri_sig_check *sig)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "event_id", json_object_new_string(r->event_id));
    json_object_object_add(o, "replica_ids", j_strv(r->replica_ids, r->n_replica_ids));
    json_object_object_add(o, "status",
                           json_object_new_string(evrepl_replication_status_name(r->status)));
    json_object_object_add(o, "timestamp", j_time(r->timestamp));
    json_object *acks = json_object_new_array();
    for (size_t i = 0; i < r->n_acks; i++) {
        const evrepl_replica_ack *a = &r->acks[i];
        json_object *ja = json_object_new_object();
        json_object_object_add(ja, "replica_id", json_object_new_string(a->replica_id));
        json_object_object_add(ja, "state",
                               json_object_new_string(evrepl_ack_state_name(a->state)));
        json_object_object_add(ja, "observed_content_hash",
                               j_hex(a->observed_content_hash, a->observed_content_hash_len));
        json_object_object_add(ja, "detail", json_object_new_string(a->detail));
        json_object_array_add(acks, ja);
    }
    json_object_object_add(o, "acks", acks);
    json_object_object_add(o, "content_hash", j_hex(r->content_hash, r->content_hash_len));
    json_object_object_add(o, "signature", j_hex(r->signature, r->signature_len));
    json_object_object_add(o, "signer_key_id", json_object_new_string(r->signer_key_id));
    j_sig(o, sig);
    j_print(f, o);
}

static const char *
or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

static void
out_sig_line(FILE *f, const evri_sig_check *sig, const char *signer_key_id)
{
    if (sig == NULL) {
        return;
    }
    if (sig->code == EVREPL_CODE_OK) {
        fprintf(f, "signature  valid (key %s, public key from %s)\n", signer_key_id,
                sig->key_source != NULL ? sig->key_source : "?");
    } else {
        fprintf(f, "signature  %s: %s\n", evri_sig_check_name(sig), sig->message);
    }
}

void
evri_out_receipt(FILE *f, const evrepl_receipt *r, const evri_sig_check *sig)
{
    char ts[32], hex[2 * EVREPL_HASH_BYTES + 1];
    evri_timestamp_format(r->timestamp, ts);
    evri_hex(hex, r->content_hash, r->content_hash_len);
    fprintf(f, "event      %s\n", r->event_id);
    fprintf(f, "status     %s\n", evrepl_replication_status_name(r->status));
    fprintf(f, "issued     %s\n", ts);
    fprintf(f, "content    %s\n", or_dash(hex));
    out_sig_line(f, sig, r->signer_key_id);
    if (r->n_acks == 0) {
        fprintf(f, "replicas   none configured\n");
        return;
    }
    fprintf(f, "\n%-16s %-22s %-18s %s\n", "REPLICA", "STATE", "OBSERVED HASH", "DETAIL");
    for (size_t i = 0; i < r->n_acks; i++) {
        const evrepl_replica_ack *a = &r->acks[i];
        evri_hex(hex, a->observed_content_hash, a->observed_content_hash_len);
        if (strlen(hex) > 16) {
            hex[16] = '\0';
        }
        fprintf(f, "%-16s %-22s %-18s %s\n", a->replica_id,
                evrepl_ack_state_name(a->state) + strlen("ACK_STATE_"), or_dash(hex),
                or_dash(a->detail));
    }
}

void
evri_out_verification_json(FILE *f, const evrepl_verification *v, const evri_sig_check *sig)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "head_hash_match", json_object_new_boolean(v->head_hash_match));
    json_object_object_add(o, "signature_valid", json_object_new_boolean(v->signature_valid));
    json_object_object_add(o, "schema_version_match",
                           json_object_new_boolean(v->schema_version_match));
    json_object_object_add(o, "errors", j_strv(v->errors, v->n_errors));
    json_object *reps = json_object_new_array();
    for (size_t i = 0; i < v->n_replicas; i++) {
        const evrepl_replica_verification *r = &v->replicas[i];
        json_object *jr = json_object_new_object();
        json_object_object_add(jr, "replica_id", json_object_new_string(r->replica_id));
        json_object_object_add(jr, "reachable", json_object_new_boolean(r->reachable));
        json_object_object_add(jr, "head_sequence", json_object_new_uint64(r->head_sequence));
        json_object_object_add(jr, "head_hash", j_hex(r->head_hash, r->head_hash_len));
        json_object_object_add(jr, "head_hash_match", json_object_new_boolean(r->head_hash_match));
        json_object_object_add(jr, "lag_events", json_object_new_uint64(r->lag_events));
        json_object_object_add(jr, "signature_valid", json_object_new_boolean(r->signature_valid));
        json_object_object_add(jr, "chain_valid", json_object_new_boolean(r->chain_valid));
        json_object_object_add(jr, "schema_version", json_object_new_string(r->schema_version));
        json_object_object_add(jr, "schema_version_match",
                               json_object_new_boolean(r->schema_version_match));
        json_object_object_add(jr, "errors", j_strv(r->errors, r->n_errors));
        json_object_object_add(jr, "events_checked", json_object_new_uint64(r->events_checked));
        json_object_object_add(jr, "diverged_at_sequence",
                               json_object_new_uint64(r->diverged_at_sequence));
        json_object_array_add(reps, jr);
    }
    json_object_object_add(o, "replicas", reps);
    json_object_object_add(o, "checked_at", j_time(v->checked_at));
    json_object_object_add(o, "primary_head_sequence",
                           json_object_new_uint64(v->primary_head_sequence));
    json_object_object_add(o, "primary_head_hash",
                           j_hex(v->primary_head_hash, v->primary_head_hash_len));
    json_object_object_add(o, "schema_version", json_object_new_string(v->schema_version));
    json_object_object_add(o, "signature", j_hex(v->signature, v->signature_len));
    json_object_object_add(o, "signer_key_id", json_object_new_string(v->signer_key_id));
    json_object_object_add(o, "valid", json_object_new_boolean(evrepl_verification_is_valid(v)));
    j_sig(o, sig);
    j_print(f, o);
}

static const char *
yn(bool b)
{
    return b ? "yes" : "NO";
}

void
evri_out_verification(FILE *f, const evrepl_verification *v, const evri_sig_check *sig)
{
    char ts[32], hex[2 * EVREPL_HASH_BYTES + 1];
    evri_timestamp_format(v->checked_at, ts);
    evri_hex(hex, v->primary_head_hash, v->primary_head_hash_len);
    fprintf(f, "checked    %s\n", ts);
    fprintf(f, "primary    head %" PRIu64 " %s, schema %s\n", v->primary_head_sequence,
            or_dash(hex), or_dash(v->schema_version));
    if (v->n_replicas > 0) {
        fprintf(f, "\n%-12s %-9s %10s %8s %-8s %-6s %-6s %-7s %10s %10s\n", "REPLICA", "REACHABLE",
                "HEAD", "LAG", "HEADHASH", "SIGS", "CHAIN", "SCHEMA", "CHECKED", "DIVERGED");
        for (size_t i = 0; i < v->n_replicas; i++) {
            const evrepl_replica_verification *r = &v->replicas[i];
            char div[24];
            if (r->diverged_at_sequence > 0) {
                snprintf(div, sizeof(div), "%" PRIu64, r->diverged_at_sequence);
            } else {
                snprintf(div, sizeof(div), "-");
            }
            fprintf(
                f, "%-12s %-9s %10" PRIu64 " %8" PRIu64 " %-8s %-6s %-6s %-7s %10" PRIu64 " %10s\n",
                r->replica_id, yn(r->reachable), r->head_sequence, r->lag_events,
                r->head_hash_match ? "match" : "DIFFERS", r->signature_valid ? "ok" : "BAD",
                r->chain_valid ? "ok" : "BAD",
                r->schema_version_match ? or_dash(r->schema_version) : "DIFFERS", r->events_checked,
                div);
        }
    }
    if (v->n_errors > 0 || v->n_replicas > 0) {
        bool any = v->n_errors > 0;
        for (size_t i = 0; i < v->n_replicas; i++) {
            any = any || v->replicas[i].n_errors > 0;
        }
        if (any) {
            fprintf(f, "\nproblems:\n");
            for (size_t i = 0; i < v->n_errors; i++) {
                fprintf(f, "  - %s\n", v->errors[i]);
            }
        }
    }
    fprintf(f, "\nhead hash match   %s\nsignatures valid  %s\nschema match      %s\n",
            yn(v->head_hash_match), yn(v->signature_valid), yn(v->schema_version_match));
    out_sig_line(f, sig, v->signer_key_id);
    fprintf(f, "result     %s\n", evrepl_verification_is_valid(v) ? "VALID" : "NOT VALID");
}

void
evri_out_description_json(FILE *f, const evrepl_server_description *d)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_string(d->version));
    json_object_object_add(o, "backend", json_object_new_string(d->backend));
    json_object_object_add(o, "methods", j_strv(d->methods, d->n_methods));
    json_object_object_add(o, "replica_ids", j_strv(d->replica_ids, d->n_replica_ids));
    json_object_object_add(o, "schema_version", json_object_new_string(d->schema_version));
    json_object_object_add(o, "dev_mode", json_object_new_boolean(d->dev_mode));
    json_object_object_add(o, "receipt_key_id", json_object_new_string(d->receipt_key_id));
    json_object_object_add(o, "receipt_public_key",
                           j_hex(d->receipt_public_key, d->receipt_public_key_len));
    j_print(f, o);
}

void
evri_out_description(FILE *f, const evrepl_server_description *d)
{
    char hex[2 * EVREPL_PUBLIC_KEY_BYTES + 1];
    evri_hex(hex, d->receipt_public_key, d->receipt_public_key_len);
    fprintf(f, "version         %s\n", d->version);
    fprintf(f, "backend         %s%s\n", d->backend,
            d->dev_mode ? " (DEV MODE: fake answers)" : "");
    fprintf(f, "schema version  %s\n", d->schema_version);
    fprintf(f, "replicas        ");
    for (size_t i = 0; i < d->n_replica_ids; i++) {
        fprintf(f, "%s%s", i > 0 ? ", " : "", d->replica_ids[i]);
    }
    fprintf(f, "%s\n", d->n_replica_ids == 0 ? "none" : "");
    fprintf(f, "receipt key     %s%s%s\n", or_dash(d->receipt_key_id), hex[0] != '\0' ? " " : "",
            hex);
    fprintf(f, "methods\n");
    for (size_t i = 0; i < d->n_methods; i++) {
        fprintf(f, "  %s\n", d->methods[i]);
    }
}

void
evri_out_health_json(FILE *f, evrepl_serving_status s)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(evrepl_serving_status_name(s)));
    j_print(f, o);
}

void
evri_out_error_json(FILE *f, const evrepl_status *st)
{
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_int(st->code));
    json_object_object_add(e, "name", json_object_new_string(evrepl_code_name(st->code)));
    json_object_object_add(e, "message", json_object_new_string(st->message));
    json_object_object_add(o, "error", e);
    j_print(f, o);
}

void
evri_out_watch_key(char *key, size_t size, const evrepl_verification *v, const evri_sig_check *sig)
{
    int o = snprintf(key, size, "%s %s", evrepl_verification_is_valid(v) ? "VALID" : "NOT_VALID",
                     evri_sig_check_name(sig));
    for (size_t i = 0; i < v->n_replicas && o > 0 && (size_t)o < size; i++) {
        o += snprintf(key + o, size - (size_t)o, " %s=%s", v->replicas[i].replica_id,
                      evri_replica_state_name(evri_replica_state_of(&v->replicas[i])));
    }
}

static void
watch_time(char ts[32])
{
    evri_timestamp_format(evri_wallclock(), ts);
}

void
evri_out_watch_line(FILE *f, const evrepl_verification *v, const evri_sig_check *sig, bool json)
{
    char ts[32];
    watch_time(ts);
    bool valid = evrepl_verification_is_valid(v);
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "time", json_object_new_string(ts));
        json_object_object_add(o, "valid", json_object_new_boolean(valid));
        json_object_object_add(o, "primary_head_sequence",
                               json_object_new_uint64(v->primary_head_sequence));
        json_object *reps = json_object_new_array();
        for (size_t i = 0; i < v->n_replicas; i++) {
            const evrepl_replica_verification *r = &v->replicas[i];
            json_object *jr = json_object_new_object();
            json_object_object_add(jr, "replica_id", json_object_new_string(r->replica_id));
            json_object_object_add(
                jr, "state",
                json_object_new_string(evri_replica_state_name(evri_replica_state_of(r))));
            json_object_object_add(jr, "head_sequence", json_object_new_uint64(r->head_sequence));
            json_object_object_add(jr, "lag_events", json_object_new_uint64(r->lag_events));
            json_object_object_add(jr, "diverged_at_sequence",
                                   json_object_new_uint64(r->diverged_at_sequence));
            json_object_array_add(reps, jr);
        }
        json_object_object_add(o, "replicas", reps);
        json_object_object_add(o, "errors", j_strv(v->errors, v->n_errors));
        j_sig(o, sig);
        j_print(f, o);
        return;
    }
    fprintf(f, "%s %s head=%" PRIu64, ts, valid ? "VALID" : "NOT_VALID", v->primary_head_sequence);
    for (size_t i = 0; i < v->n_replicas; i++) {
        const evrepl_replica_verification *r = &v->replicas[i];
        evri_replica_state s = evri_replica_state_of(r);
        fprintf(f, " %s=%s", r->replica_id, evri_replica_state_name(s));
        if (s == EVRI_REPLICA_STATE_LAGGING) {
            fprintf(f, "(lag=%" PRIu64 ")", r->lag_events);
        } else if (s == EVRI_REPLICA_STATE_DIVERGED) {
            fprintf(f, "(at=%" PRIu64 ")", r->diverged_at_sequence);
        }
    }
    if (v->n_replicas == 0 && v->n_errors > 0) {
        fprintf(f, " (%s)", v->errors[0]);
    }
    fprintf(f, " signature=%s\n", evri_sig_check_name(sig));
}

void
evri_out_watch_error(FILE *f, const evrepl_status *st, bool json)
{
    char ts[32];
    watch_time(ts);
    if (json) {
        json_object *o = json_object_new_object();
        json_object *e = json_object_new_object();
        json_object_object_add(o, "time", json_object_new_string(ts));
        json_object_object_add(e, "code", json_object_new_int(st->code));
        json_object_object_add(e, "name", json_object_new_string(evrepl_code_name(st->code)));
        json_object_object_add(e, "message", json_object_new_string(st->message));
        json_object_object_add(o, "error", e);
        j_print(f, o);
        return;
    }
    fprintf(f, "%s ERROR %s: %s\n", ts, evrepl_code_name(st->code), st->message);
}
