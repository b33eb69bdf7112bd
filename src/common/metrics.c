#include "common/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "domain/status.h"
#include "domain/strv.h"

// Status codes 0 (OK) to 16 (UNAUTHENTICATED); any other number counts as UNKNOWN (2).
#define N_CODES            17
#define N_RECEIPT_STATUSES 5 // ReplicationStatus numbers 0..4

// Latency bucket bounds: from a stub answer (tens of microseconds) to the longest default
// deadline of a database call (5 s) and beyond.
#define N_BUCKETS 17
static const uint64_t bucket_ns[N_BUCKETS] = {
    100000,     250000,     500000,     1000000,     2500000,     5000000,
    10000000,   25000000,   50000000,   100000000,   250000000,   500000000,
    1000000000, 2500000000, 5000000000, 10000000000, 30000000000,
};
static const char *const bucket_le[N_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",    "0.5",    "1",     "2.5",    "5",     "10",   "30",
};

static const char *const receipt_status_labels[N_RECEIPT_STATUSES] = {
    "unspecified", "pending", "confirmed", "failed", "not_configured",
};

typedef struct method_stats {
    char *path;
    atomic_uint_fast64_t calls[N_CODES];
    atomic_uint_fast64_t buckets[N_BUCKETS + 1]; // per bucket, not cumulative; last: above all
    atomic_uint_fast64_t sum_ns;
} method_stats;

typedef struct replica_stats {
    char *id;
    bool seen; // verified at least once
    evri_metrics_replica last;
    uint64_t events_checked; // all verifications together
    uint64_t changes;        // state changes after the first verification
} replica_stats;

struct evri_metrics {
    char *version;
    char *schema_version;
    char *backend;
    bool dev_mode;
    evrepl_timestamp started;
    method_stats methods[EVRI_METRICS_MAX_METHODS];
    unsigned n_methods;
    atomic_int_fast64_t in_flight;
    atomic_uint_fast64_t receipts[N_RECEIPT_STATUSES];
    atomic_uint_fast64_t verifications[2]; // [0] not valid, [1] valid
    evri_metrics_source_fn source;
    void *source_arg;
    pthread_mutex_t mu; // replicas
    replica_stats *replicas;
    size_t n_replicas;
};

evrepl_code
evri_metrics_create(evri_metrics **out, const evri_metrics_config *cfg, evrepl_status *st)
{
    evri_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the metrics");
    }
    pthread_mutex_init(&m->mu, NULL);
    m->started = evri_wallclock();
    m->version = evri_strdup(cfg->version != NULL ? cfg->version : "");
    m->schema_version = evri_strdup(cfg->schema_version != NULL ? cfg->schema_version : "");
    m->backend = evri_strdup("");
    if (m->version == NULL || m->schema_version == NULL || m->backend == NULL) {
        goto oom;
    }
    if (cfg->n_replicas > 0 &&
        (m->replicas = calloc(cfg->n_replicas, sizeof(*m->replicas))) == NULL) {
        goto oom;
    }
    for (size_t i = 0; i < cfg->n_replicas; i++) {
        if ((m->replicas[i].id = evri_strdup(cfg->replica_ids[i])) == NULL) {
            goto oom;
        }
        m->n_replicas++;
    }
    // Index 0 is every method the server does not have: one label, however many names.
    if ((m->methods[0].path = evri_strdup("unknown")) == NULL) {
        goto oom;
    }
    m->n_methods = 1;
    *out = m;
    return evri_status_ok(st);
oom:
    evri_metrics_destroy(m);
    return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory creating the metrics");
}

void
evri_metrics_destroy(evri_metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (unsigned i = 0; i < m->n_methods; i++) {
        free(m->methods[i].path);
    }
    for (size_t i = 0; i < m->n_replicas; i++) {
        free(m->replicas[i].id);
    }
    free(m->replicas);
    free(m->version);
    free(m->schema_version);
    free(m->backend);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void
evri_metrics_set_backend(evri_metrics *m, const char *backend, bool dev_mode)
{
    char *b = evri_strdup(backend);
    if (m == NULL || b == NULL) {
        free(b); // out of memory: the label stays empty
        return;
    }
    free(m->backend);
    m->backend = b;
    m->dev_mode = dev_mode;
}

unsigned
evri_metrics_add_method(evri_metrics *m, const char *path)
{
    if (m == NULL || m->n_methods >= EVRI_METRICS_MAX_METHODS) {
        return EVRI_METRICS_METHOD_UNKNOWN;
    }
    char *p = evri_strdup(path);
    if (p == NULL) {
        return EVRI_METRICS_METHOD_UNKNOWN;
    }
    m->methods[m->n_methods].path = p;
    return m->n_methods++;
}

void
evri_metrics_set_source(evri_metrics *m, evri_metrics_source_fn fn, void *arg)
{
    if (m != NULL) {
        m->source = fn;
        m->source_arg = arg;
    }
}

// ---- the call path: relaxed atomic adds, no lock ------------------------------------------

void
evri_metrics_call_begin(evri_metrics *m)
{
    if (m != NULL) {
        atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_relaxed);
    }
}

void
evri_metrics_call_end(evri_metrics *m, unsigned method, evrepl_code code, uint64_t duration_ns)
{
    if (m == NULL) {
        return;
    }
    method_stats *ms = &m->methods[method < m->n_methods ? method : EVRI_METRICS_METHOD_UNKNOWN];
    unsigned c = (unsigned)code < N_CODES ? (unsigned)code : (unsigned)EVREPL_CODE_UNKNOWN;
    unsigned b = 0;
    while (b < N_BUCKETS && duration_ns > bucket_ns[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&ms->calls[c], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ms->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ms->sum_ns, duration_ns, memory_order_relaxed);
    atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);
}

void
evri_metrics_receipt(evri_metrics *m, evrepl_replication_status status)
{
    if (m != NULL && (unsigned)status < N_RECEIPT_STATUSES) {
        atomic_fetch_add_explicit(&m->receipts[status], 1, memory_order_relaxed);
    }
}

void
evri_metrics_verification(evri_metrics *m, bool valid)
{
    if (m != NULL) {
        atomic_fetch_add_explicit(&m->verifications[valid ? 1 : 0], 1, memory_order_relaxed);
    }
}

// ---- replicas ---------------------------------------------------------------------------

evri_replica_state
evri_metrics_replica_update(evri_metrics *m, size_t i, const evri_metrics_replica *r)
{
    if (m == NULL || i >= m->n_replicas) {
        return EVRI_REPLICA_STATE_UNKNOWN;
    }
    pthread_mutex_lock(&m->mu);
    replica_stats *rs = &m->replicas[i];
    evri_replica_state prev = rs->seen ? rs->last.state : EVRI_REPLICA_STATE_UNKNOWN;
    if (rs->seen && prev != r->state) {
        rs->changes++;
    }
    rs->seen = true;
    rs->last = *r;
    rs->events_checked += r->events_checked;
    pthread_mutex_unlock(&m->mu);
    return prev;
}

// ---- rendering --------------------------------------------------------------------------

typedef struct mbuf {
    char *p;
    size_t len;
    size_t cap;
    bool failed;
} mbuf;

static void
mb_reserve(mbuf *b, size_t more)
{
    if (b->failed || b->len + more + 1 <= b->cap) {
        return;
    }
    size_t cap = b->cap > 0 ? b->cap : 4096;
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void mb_printf(mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
mb_printf(mbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    mb_reserve(b, (size_t)n);
    if (b->failed) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap); // fits: reserved above
    va_end(ap);
    b->len += (size_t)n;
}

static void
mb_bytes(mbuf *b, const char *s, size_t n)
{
    mb_reserve(b, n);
    if (!b->failed) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
    }
}

// Length of the valid UTF-8 sequence at s (1-4), or 0 when the bytes there are not one.
static size_t
utf8_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (left < n) {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0u) != 0x80u) {
            return 0;
        }
        cp = (cp << 6) | (s[k] & 0x3fu);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
    return overlong || surrogate || cp > 0x10ffff ? 0 : n;
}

// Writes text escaped for a label value (in_label: \\ \" \n) or a HELP line (\\ \n). Bytes that
// are not UTF-8 become U+FFFD, so the exposition stays valid for any replica id.
static void
mb_escaped(mbuf *b, const char *text, bool in_label)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t left = strlen(text);
    while (left > 0) {
        size_t n = utf8_len(s, left);
        if (n == 0) {
            mb_bytes(b, "\xef\xbf\xbd", 3);
            n = 1;
        } else if (s[0] == '\\') {
            mb_bytes(b, "\\\\", 2);
        } else if (s[0] == '\n') {
            mb_bytes(b, "\\n", 2);
        } else if (s[0] == '"' && in_label) {
            mb_bytes(b, "\\\"", 2);
        } else {
            mb_bytes(b, (const char *)s, n);
        }
        s += n;
        left -= n;
    }
}

static void
mb_header(mbuf *b, const char *name, const char *type, const char *help)
{
    mb_printf(b, "# HELP %s ", name);
    mb_escaped(b, help, false);
    mb_printf(b, "\n# TYPE %s %s\n", name, type);
}

// name{key="value" (value escaped), the label set left open for more labels.
static void
mb_open(mbuf *b, const char *name, const char *key, const char *value)
{
    mb_printf(b, "%s{%s=\"", name, key);
    mb_escaped(b, value, true);
    mb_bytes(b, "\"", 1);
}

// name{key="value"} (one label), no value and no newline yet.
static void
mb_sample1(mbuf *b, const char *name, const char *key, const char *value)
{
    mb_open(b, name, key, value);
    mb_bytes(b, "}", 1);
}

static void
mb_seconds(mbuf *b, evrepl_timestamp t)
{
    mb_printf(b, " %" PRId64 ".%03d\n", t.seconds, (int)(t.nanos / 1000000));
}

static void
render_build(mbuf *b, const evri_metrics *m)
{
    mb_header(b, "evrepl_build_info", "gauge",
              "The version of evrepld, its backend and the schema version it expects; always 1.");
    mb_printf(b, "evrepl_build_info{version=\"");
    mb_escaped(b, m->version, true);
    mb_printf(b, "\",backend=\"");
    mb_escaped(b, m->backend, true);
    mb_printf(b, "\",schema_version=\"");
    mb_escaped(b, m->schema_version, true);
    mb_printf(b, "\",dev_mode=\"%s\"} 1\n", m->dev_mode ? "true" : "false");
    mb_header(b, "evrepl_start_time_seconds", "gauge",
              "When this evrepld started, in seconds since the Unix epoch.");
    mb_printf(b, "evrepl_start_time_seconds");
    mb_seconds(b, m->started);
}

static void
render_calls(mbuf *b, evri_metrics *m)
{
    mb_header(b, "evrepl_calls_total", "counter",
              "Calls answered, by method (\"unknown\" for names the server does not serve) and "
              "status code.");
    for (unsigned i = 0; i < m->n_methods; i++) {
        method_stats *ms = &m->methods[i];
        for (unsigned c = 0; c < N_CODES; c++) {
            uint64_t v = atomic_load_explicit(&ms->calls[c], memory_order_relaxed);
            if (v == 0 && (c != EVREPL_CODE_OK || i == EVRI_METRICS_METHOD_UNKNOWN)) {
                continue; // present once it happens; a method's OK always (rates start at 0)
            }
            mb_open(b, "evrepl_calls_total", "method", ms->path);
            mb_printf(b, ",code=\"%s\"} %" PRIu64 "\n", evrepl_code_name((evrepl_code)c), v);
        }
    }
    mb_header(b, "evrepl_call_duration_seconds", "histogram",
              "Time from receiving a call to answering it, by method.");
    for (unsigned i = 0; i < m->n_methods; i++) {
        method_stats *ms = &m->methods[i];
        uint64_t cum = 0;
        for (unsigned k = 0; k <= N_BUCKETS; k++) {
            cum += atomic_load_explicit(&ms->buckets[k], memory_order_relaxed);
            mb_open(b, "evrepl_call_duration_seconds_bucket", "method", ms->path);
            mb_printf(b, ",le=\"%s\"} %" PRIu64 "\n", k < N_BUCKETS ? bucket_le[k] : "+Inf", cum);
        }
        uint64_t sum = atomic_load_explicit(&ms->sum_ns, memory_order_relaxed);
        mb_sample1(b, "evrepl_call_duration_seconds_sum", "method", ms->path);
        mb_printf(b, " %" PRIu64 ".%09" PRIu64 "\n", sum / 1000000000u, sum % 1000000000u);
        mb_sample1(b, "evrepl_call_duration_seconds_count", "method", ms->path);
        mb_printf(b, " %" PRIu64 "\n", cum);
    }
    int_fast64_t in_flight = atomic_load_explicit(&m->in_flight, memory_order_relaxed);
    mb_header(b, "evrepl_calls_in_flight", "gauge", "Calls received and not yet answered.");
    mb_printf(b, "evrepl_calls_in_flight %" PRIdFAST64 "\n", in_flight > 0 ? in_flight : 0);
}

static void
render_gauges(mbuf *b, evri_metrics *m)
{
    evri_metrics_gauges g = {0};
    if (m->source != NULL) {
        m->source(m->source_arg, &g);
    }
    mb_header(b, "evrepl_workers", "gauge",
              "Worker threads for calls that block on the database (0: every call runs inline).");
    mb_printf(b, "evrepl_workers %" PRIu64 "\n", g.workers);
    mb_header(b, "evrepl_worker_queue_depth", "gauge", "Calls waiting for a worker.");
    mb_printf(b, "evrepl_worker_queue_depth %" PRIu64 "\n", g.queue_depth);
    mb_header(b, "evrepl_worker_queue_capacity", "gauge",
              "Calls that may wait for a worker before callers get RESOURCE_EXHAUSTED.");
    mb_printf(b, "evrepl_worker_queue_capacity %" PRIu64 "\n", g.queue_capacity);
    mb_header(b, "evrepl_draining", "gauge",
              "1 while the server shuts down: it answers the calls it took and refuses new ones.");
    mb_printf(b, "evrepl_draining %d\n", g.draining ? 1 : 0);
    mb_header(b, "evrepl_primary_reachable", "gauge",
              "1 when the backend reaches the primary (Health of evrepl.v1.EventReplicator is "
              "SERVING).");
    mb_printf(b, "evrepl_primary_reachable %d\n", g.primary_reachable ? 1 : 0);
}

static void
render_answers(mbuf *b, evri_metrics *m)
{
    mb_header(b, "evrepl_receipts_total", "counter",
              "Receipts issued by PropagateEvent, by status.");
    for (unsigned s = 0; s < N_RECEIPT_STATUSES; s++) {
        uint64_t v = atomic_load_explicit(&m->receipts[s], memory_order_relaxed);
        if (s == EVREPL_REPLICATION_STATUS_UNSPECIFIED && v == 0) {
            continue;
        }
        mb_sample1(b, "evrepl_receipts_total", "status", receipt_status_labels[s]);
        mb_printf(b, " %" PRIu64 "\n", v);
    }
    mb_header(b, "evrepl_verifications_total", "counter",
              "VerifyReplicas results, by whether the result was valid.");
    for (int valid = 1; valid >= 0; valid--) {
        uint64_t v = atomic_load_explicit(&m->verifications[valid], memory_order_relaxed);
        mb_printf(b, "evrepl_verifications_total{result=\"%s\"} %" PRIu64 "\n",
                  valid ? "valid" : "not_valid", v);
    }
}

typedef enum replica_gauge {
    RG_REACHABLE,
    RG_HEAD,
    RG_LAG,
    RG_DIVERGED,
    RG_TIME,
    RG_COUNT,
} replica_gauge;

static void
render_replicas(mbuf *b, evri_metrics *m)
{
    static const struct {
        const char *name, *help;
    } gauges[RG_COUNT] = {
        {"evrepl_replica_reachable", "1 when the last verification reached the replica."},
        {"evrepl_replica_head_sequence", "The replica's newest sequence at the last verification."},
        {"evrepl_replica_lag_events",
         "How many events the replica was behind the primary at the last verification."},
        {"evrepl_replica_diverged_at_sequence",
         "The first sequence where the replica differs from the primary (0: none found)."},
        {"evrepl_replica_last_verification_timestamp_seconds",
         "When a verification last reported the replica, in seconds since the Unix epoch."},
    };
    pthread_mutex_lock(&m->mu);
    mb_header(b, "evrepl_replica_state", "gauge",
              "The state the last verification found the replica in (unknown: not verified "
              "yet): 1 for that state, 0 for the others.");
    for (size_t i = 0; i < m->n_replicas; i++) {
        const replica_stats *rs = &m->replicas[i];
        evri_replica_state now = rs->seen ? rs->last.state : EVRI_REPLICA_STATE_UNKNOWN;
        for (int s = 0; s < EVRI_REPLICA_STATE_COUNT; s++) {
            mb_open(b, "evrepl_replica_state", "replica", rs->id);
            mb_printf(b, ",state=\"%s\"} %d\n", evri_replica_state_name((evri_replica_state)s),
                      (int)now == s ? 1 : 0);
        }
    }
    // The other gauges exist once a verification reported the replica.
    for (int g = 0; g < RG_COUNT; g++) {
        mb_header(b, gauges[g].name, "gauge", gauges[g].help);
        for (size_t i = 0; i < m->n_replicas; i++) {
            const replica_stats *rs = &m->replicas[i];
            if (!rs->seen) {
                continue;
            }
            mb_sample1(b, gauges[g].name, "replica", rs->id);
            switch ((replica_gauge)g) {
            case RG_REACHABLE:
                mb_printf(b, " %d\n", rs->last.reachable ? 1 : 0);
                break;
            case RG_HEAD:
                mb_printf(b, " %" PRIu64 "\n", rs->last.head_sequence);
                break;
            case RG_LAG:
                mb_printf(b, " %" PRIu64 "\n", rs->last.lag_events);
                break;
            case RG_DIVERGED:
                mb_printf(b, " %" PRIu64 "\n", rs->last.diverged_at_sequence);
                break;
            case RG_TIME:
            case RG_COUNT:
                mb_seconds(b, rs->last.at);
                break;
            }
        }
    }
    mb_header(b, "evrepl_replica_state_changes_total", "counter",
              "Changes of the replica's state after its first verification.");
    for (size_t i = 0; i < m->n_replicas; i++) {
        mb_sample1(b, "evrepl_replica_state_changes_total", "replica", m->replicas[i].id);
        mb_printf(b, " %" PRIu64 "\n", m->replicas[i].changes);
    }
    mb_header(b, "evrepl_audit_events_checked_total", "counter",
              "Events re-hashed, chain-checked and signature-checked on the replica by "
              "verifications (audit progress).");
    for (size_t i = 0; i < m->n_replicas; i++) {
        mb_sample1(b, "evrepl_audit_events_checked_total", "replica", m->replicas[i].id);
        mb_printf(b, " %" PRIu64 "\n", m->replicas[i].events_checked);
    }
    pthread_mutex_unlock(&m->mu);
}

char *
evri_metrics_render(evri_metrics *m, size_t *len)
{
    mbuf b = {0};
    render_build(&b, m);
    render_calls(&b, m);
    render_gauges(&b, m);
    render_answers(&b, m);
    render_replicas(&b, m);
    if (b.failed || b.p == NULL) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
