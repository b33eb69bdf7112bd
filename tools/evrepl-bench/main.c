// evrepl-bench: a closed-loop load generator for evrepld, with its floors (baselines) measured
// in the same run, interleaved round by round with the server (A B A B ...), and printed as
// ratios beside the server's figures. See `evrepl-bench --help` and docs/performance.md.
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wordexp.h>

#include <json-c/json.h>

#include "adapters/postgres/writer.h"
#include "bench.h"
#include "common/clock.h"
#include "common/keyfile.h"
#include "domain/status.h"
#include "evrepl/client.h"
#include "evrepl/rpc/v1/envelope.pb-c.h"
#include "rpc/wire.h"

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1, // the run finished but calls failed
    EXIT_USAGE = 2,
    EXIT_ERROR = 3,
};

#define MAX_REPLICAS     15
#define MAX_BASELINES    4
#define STUB_EVENT_ID    "00000000-0000-4000-8000-000000000000"
#define DEFAULT_URL      "tcp://127.0.0.1:7450"
#define READY_WAIT_MS    15000
#define STOP_WAIT_MS     10000
#define DEFAULT_APPEND_N 5000

typedef enum bench_method {
    M_HEALTH,
    M_DESCRIBE,
    M_PROPAGATE,
    M_VERIFY,
    M_APPEND,
} bench_method;

static const char *const method_names[] = {"health", "describe", "propagate", "verify", "append"};
static const char *const method_paths[] = {EVREPL_METHOD_HEALTH_CHECK, EVREPL_METHOD_DESCRIBE,
                                           EVREPL_METHOD_PROPAGATE_EVENT,
                                           EVREPL_METHOD_VERIFY_REPLICAS, NULL};

typedef enum baseline {
    B_NNG,
    B_PG,
    B_REPLICATION,
    B_CRYPTO,
} baseline;

static const char *const baseline_names[] = {"nng", "pg", "replication", "crypto"};

typedef struct opts {
    const char *url;
    bench_method m;
    unsigned concurrency;
    double duration_s;
    bool duration_set;
    uint64_t requests;
    unsigned rounds;
    double warmup_s;
    uint32_t tail;
    bool full;
    bool fresh;
    uint64_t append_events;
    const char *event_id;
    const char *db;
    const char *replicas[MAX_REPLICAS];
    size_t n_replicas;
    const char *key;
    baseline baselines[MAX_BASELINES];
    size_t n_baselines;
    uint32_t timeout_ms;
    pid_t server_pid;
    const char *spawn;
    const char *evrepld;
    bool json;
    bool replication_notify;
} opts;

// One thing measured round after round: the server (index 0) or a baseline.
typedef struct target {
    const char *name;  // "evrepld", "nng", ...
    const char *label; // a line saying what it is
    bench_result total;
    double *round_rate; // calls/s of each round
    bench_proc_sample cpu_before, cpu_after;
    uint64_t cpu_ns; // CPU of the process serving it, summed over its rounds
    bool has_cpu;
    // append: writer figures summed over rounds
    evri_pg_writer_stats writer;
} target;

typedef struct bench {
    opts o;
    char tmpdir[64];
    pid_t server_pid;
    bool spawned;
    char **spawn_argv;
    size_t spawn_argc;
    wordexp_t we;
    bool we_used;
    const char *log_level_note;
    char echo_url[256];
    pid_t echo_pid;
    uint8_t *body;
    size_t body_len;
    uint8_t *reply;
    size_t reply_len;
    char event_id[40];
    bench_load *load;
    bench_load *echo;
    bench_pg_floor *pgf;
    bench_fresh *fresh;
    bench_crypto *crypto;
    evri_signer *append_signer;
    evri_pg_writer *append_writer;
    target t[1 + MAX_BASELINES];
    size_t n_t;
    bench_proc_sample rss_before, rss_after;
} bench;

// ---- flags -----------------------------------------------------------------------------------

static void
usage(FILE *f)
{
    fputs(
        "usage: evrepl-bench [options]\n"
        "\n"
        "Closed-loop load on an evrepl server, with floors measured in the same run,\n"
        "interleaved round by round (server, floor, server, floor, ...), printed as ratios.\n"
        "\n"
        "  --url URL             the server: ipc://PATH or tcp://HOST:PORT (default " DEFAULT_URL
        ")\n"
        "  --method M            health, describe, propagate, verify, or append (the writer,\n"
        "                        as `evrepl append`; needs --db and --key)\n"
        "  --concurrency C       independent REQ contexts, each one call at a time (default 1)\n"
        "  --duration S          seconds measured per target, split over the rounds (default 5)\n"
        "  --requests N          calls per target, split over the rounds; the duration still\n"
        "                        bounds every round (default: no count bound)\n"
        "  --rounds R            rounds of (server, baselines...) (default 5)\n"
        "  --warmup S            seconds of calls before measuring (default 1)\n"
        "  --tail N, --full      verify: VerifyReplicas tail / full_audit\n"
        "  --event-id ID         propagate: the event (default: the head event of --db, or a\n"
        "                        fixed UUID)\n"
        "  --fresh               propagate: append a fresh event per call (as the single writer)\n"
        "                        and time from its commit until the receipt; needs --db, --key\n"
        "  --append-events N     append: events per call (default 5000)\n"
        "  --db CONNINFO         the primary (for --event-id, baselines pg and replication)\n"
        "  --replica CONNINFO    a replica; repeatable, in the server's order\n"
        "  --key FILE            a signing key registered on the primary (evrepl register-key)\n"
        "  --baseline B          repeatable: nng (bare rep0 echo server on the same kind of URL,\n"
        "                        same concurrency and reply bytes), pg (one parallel SELECT 1\n"
        "                        to the primary and every replica), replication (commit until\n"
        "                        visible on the slowest replica, polled tightly), crypto\n"
        "                        (one thread: SHA-256 + Ed25519 verify, or sign for append)\n"
        "  --replication-notify  baseline replication: wait for each replica's apply\n"
        "                        notification (LISTEN) instead of polling (polling competes\n"
        "                        for CPU with the apply workers on a small machine)\n"
        "  --timeout-ms MS       deadline of every call (default 5000)\n"
        "  --server-pid PID      read RSS and CPU of this evrepld from /proc\n"
        "  --spawn ARGS          start evrepld with ARGS (shell words) plus --listen URL, and\n"
        "                        --log-level warn unless ARGS set a level; stop it at the end\n"
        "  --evrepld PATH        the evrepld that --spawn runs (default: next to this program)\n"
        "  --json                one JSON object on stdout\n"
        "  --help\n"
        "\n"
        "Exit codes: 0 done with no failed call, 1 some calls failed, 2 usage, 3 error.\n",
        f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "evrepl-bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    usage(stderr);
    return EXIT_USAGE;
}

static bool
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_secs(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 86400) {
        return false;
    }
    *out = v;
    return true;
}

enum {
    O_URL = 1000,
    O_METHOD,
    O_CONCURRENCY,
    O_DURATION,
    O_REQUESTS,
    O_ROUNDS,
    O_WARMUP,
    O_TAIL,
    O_FULL,
    O_EVENT_ID,
    O_FRESH,
    O_APPEND_EVENTS,
    O_DB,
    O_REPLICA,
    O_KEY,
    O_BASELINE,
    O_TIMEOUT,
    O_SERVER_PID,
    O_SPAWN,
    O_EVREPLD,
    O_JSON,
    O_REPLICATION_NOTIFY,
    O_HELP,
    O_ECHO,
    O_REPLY_FILE,
    O_CONTEXTS,
};

static const struct option long_opts[] = {
    {"url", required_argument, NULL, O_URL},
    {"method", required_argument, NULL, O_METHOD},
    {"concurrency", required_argument, NULL, O_CONCURRENCY},
    {"duration", required_argument, NULL, O_DURATION},
    {"requests", required_argument, NULL, O_REQUESTS},
    {"rounds", required_argument, NULL, O_ROUNDS},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"tail", required_argument, NULL, O_TAIL},
    {"full", no_argument, NULL, O_FULL},
    {"event-id", required_argument, NULL, O_EVENT_ID},
    {"fresh", no_argument, NULL, O_FRESH},
    {"append-events", required_argument, NULL, O_APPEND_EVENTS},
    {"db", required_argument, NULL, O_DB},
    {"replica", required_argument, NULL, O_REPLICA},
    {"key", required_argument, NULL, O_KEY},
    {"baseline", required_argument, NULL, O_BASELINE},
    {"timeout-ms", required_argument, NULL, O_TIMEOUT},
    {"server-pid", required_argument, NULL, O_SERVER_PID},
    {"spawn", required_argument, NULL, O_SPAWN},
    {"evrepld", required_argument, NULL, O_EVREPLD},
    {"json", no_argument, NULL, O_JSON},
    {"replication-notify", no_argument, NULL, O_REPLICATION_NOTIFY},
    {"help", no_argument, NULL, O_HELP},
    // The echo server is this program run again: --internal-echo URL --reply-file F.
    {"internal-echo", required_argument, NULL, O_ECHO},
    {"reply-file", required_argument, NULL, O_REPLY_FILE},
    {"contexts", required_argument, NULL, O_CONTEXTS},
    {NULL, 0, NULL, 0},
};

// Returns -1 to go on, else an exit code.
static int
parse_args(opts *o, int argc, char **argv)
{
    const char *echo_url = NULL, *reply_file = NULL;
    uint64_t contexts = 64, v;
    int opt;
    *o = (opts){.url = DEFAULT_URL,
                .m = M_HEALTH,
                .concurrency = 1,
                .duration_s = 5,
                .rounds = 5,
                .warmup_s = 1,
                .timeout_ms = 5000,
                .append_events = DEFAULT_APPEND_N};
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (opt) {
        case O_URL:
            o->url = optarg;
            break;
        case O_METHOD: {
            bool found = false;
            for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
                if (strcmp(optarg, method_names[i]) == 0) {
                    o->m = (bench_method)i;
                    found = true;
                }
            }
            if (!found) {
                return usage_error("unknown method '%s'", optarg);
            }
            break;
        }
        case O_CONCURRENCY:
            if (!parse_u64(optarg, &v) || v < 1 || v > 4096) {
                return usage_error("--concurrency wants 1..4096, not '%s'", optarg);
            }
            o->concurrency = (unsigned)v;
            break;
        case O_DURATION:
            if (!parse_secs(optarg, &o->duration_s)) {
                return usage_error("--duration wants seconds, not '%s'", optarg);
            }
            o->duration_set = true;
            break;
        case O_REQUESTS:
            if (!parse_u64(optarg, &o->requests) || o->requests < 1) {
                return usage_error("--requests wants a positive count, not '%s'", optarg);
            }
            break;
        case O_ROUNDS:
            if (!parse_u64(optarg, &v) || v < 1 || v > 1000) {
                return usage_error("--rounds wants 1..1000, not '%s'", optarg);
            }
            o->rounds = (unsigned)v;
            break;
        case O_WARMUP:
            if (strcmp(optarg, "0") == 0) {
                o->warmup_s = 0;
            } else if (!parse_secs(optarg, &o->warmup_s)) {
                return usage_error("--warmup wants seconds, not '%s'", optarg);
            }
            break;
        case O_TAIL:
            if (!parse_u64(optarg, &v) || v > UINT32_MAX) {
                return usage_error("--tail wants a count, not '%s'", optarg);
            }
            o->tail = (uint32_t)v;
            break;
        case O_FULL:
            o->full = true;
            break;
        case O_EVENT_ID:
            o->event_id = optarg;
            break;
        case O_FRESH:
            o->fresh = true;
            break;
        case O_APPEND_EVENTS:
            if (!parse_u64(optarg, &o->append_events) || o->append_events < 1 ||
                o->append_events > 100000000) {
                return usage_error("--append-events wants 1..100000000, not '%s'", optarg);
            }
            break;
        case O_DB:
            o->db = optarg;
            break;
        case O_REPLICA:
            if (o->n_replicas == MAX_REPLICAS) {
                return usage_error("at most 15 replicas");
            }
            o->replicas[o->n_replicas++] = optarg;
            break;
        case O_KEY:
            o->key = optarg;
            break;
        case O_BASELINE: {
            bool found = false;
            for (size_t i = 0; i < sizeof(baseline_names) / sizeof(baseline_names[0]); i++) {
                if (strcmp(optarg, baseline_names[i]) == 0) {
                    found = true;
                    bool dup = false;
                    for (size_t k = 0; k < o->n_baselines; k++) {
                        dup = dup || o->baselines[k] == (baseline)i;
                    }
                    if (!dup) {
                        o->baselines[o->n_baselines++] = (baseline)i;
                    }
                }
            }
            if (!found) {
                return usage_error("unknown baseline '%s' (nng, pg, replication, crypto)", optarg);
            }
            break;
        }
        case O_TIMEOUT:
            if (!parse_u64(optarg, &v) || v < 1 || v > 3600000) {
                return usage_error("--timeout-ms wants 1..3600000, not '%s'", optarg);
            }
            o->timeout_ms = (uint32_t)v;
            break;
        case O_SERVER_PID:
            if (!parse_u64(optarg, &v) || v < 1 || v > INT32_MAX) {
                return usage_error("--server-pid wants a process id, not '%s'", optarg);
            }
            o->server_pid = (pid_t)v;
            break;
        case O_SPAWN:
            o->spawn = optarg;
            break;
        case O_EVREPLD:
            o->evrepld = optarg;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_REPLICATION_NOTIFY:
            o->replication_notify = true;
            break;
        case O_HELP:
            usage(stdout);
            return EXIT_OK;
        case O_ECHO:
            echo_url = optarg;
            break;
        case O_REPLY_FILE:
            reply_file = optarg;
            break;
        case O_CONTEXTS:
            if (!parse_u64(optarg, &contexts) || contexts < 1 || contexts > 8192) {
                return usage_error("--contexts wants 1..8192, not '%s'", optarg);
            }
            break;
        default:
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (echo_url != NULL) {
        if (reply_file == NULL) {
            return usage_error("--internal-echo needs --reply-file");
        }
        return bench_echo_main(echo_url, reply_file, (unsigned)contexts);
    }
    if (o->requests > 0 && !o->duration_set) {
        o->duration_s = 60; // the time bound of a count-bounded run
    }
    if (o->server_pid > 0 && o->spawn != NULL) {
        return usage_error("--server-pid and --spawn exclude each other");
    }
    if ((o->fresh || o->m == M_APPEND) && (o->db == NULL || o->key == NULL)) {
        return usage_error("%s needs --db and --key", o->fresh ? "--fresh" : "--method append");
    }
    if (o->fresh && o->m != M_PROPAGATE) {
        return usage_error("--fresh is for --method propagate");
    }
    if ((o->fresh || o->m == M_APPEND) && o->concurrency != 1) {
        return usage_error("%s runs one call at a time (the single writer): --concurrency 1",
                           o->fresh ? "--fresh" : "--method append");
    }
    for (size_t i = 0; i < o->n_baselines; i++) {
        baseline b = o->baselines[i];
        if (b == B_NNG && (o->fresh || o->m == M_APPEND)) {
            return usage_error("--baseline nng needs an RPC method without --fresh");
        }
        if (b == B_NNG && strncmp(o->url, "ipc://", 6) != 0 && strncmp(o->url, "tcp://", 6) != 0) {
            return usage_error("--baseline nng needs an ipc:// or tcp:// URL, not %s", o->url);
        }
        if ((b == B_PG || b == B_REPLICATION) && o->db == NULL) {
            return usage_error("--baseline %s needs --db (and --replica for each replica)",
                               baseline_names[b]);
        }
        if (b == B_REPLICATION && (o->key == NULL || o->n_replicas == 0)) {
            return usage_error("--baseline replication needs --key and --replica");
        }
    }
    return -1;
}

// ---- the server --------------------------------------------------------------------------

// protoc-c and execv take non-const strings that they only read.
static char *
mut(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

static bool
args_have(char **argv, size_t n, const char *flag)
{
    size_t len = strlen(flag);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[i], flag) == 0 ||
            (strncmp(argv[i], flag, len) == 0 && argv[i][len] == '=')) {
            return true;
        }
    }
    return false;
}

static char *
self_dir_file(const char *name)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        return NULL;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL) {
        return NULL;
    }
    *slash = '\0';
    size_t len = strlen(self) + 1 + strlen(name) + 1;
    char *p = malloc(len);
    if (p != NULL) {
        snprintf(p, len, "%s/%s", self, name);
    }
    return p;
}

static uint8_t *
health_body(size_t *len, uint32_t timeout_ms)
{
    evri_wbuf payload, env;
    evri_wbuf_init(&payload);
    evri_wbuf_init(&env);
    evri_wire_pack_health_request("", &payload.base);
    Evrepl__Rpc__V1__Request req = EVREPL__RPC__V1__REQUEST__INIT;
    char method[] = EVREPL_METHOD_HEALTH_CHECK;
    req.method = method;
    req.payload.data = payload.data;
    req.payload.len = payload.len;
    req.timeout_ms = timeout_ms;
    evrepl__rpc__v1__request__pack_to_buffer(&req, &env.base);
    evri_wbuf_free(&payload);
    if (env.failed) {
        evri_wbuf_free(&env);
        return NULL;
    }
    *len = env.len;
    return env.data;
}

// Calls Health until the server answers, or the child died, or READY_WAIT_MS passed.
static evrepl_code
wait_ready(const char *url, pid_t child, evrepl_status *st)
{
    size_t len = 0;
    uint8_t *body = health_body(&len, 1000);
    uint64_t until = evri_now_ns() + READY_WAIT_MS * EVRI_NS_PER_MS;
    evrepl_code code = EVREPL_CODE_INTERNAL;
    while (body != NULL) {
        uint8_t *reply = NULL;
        size_t rlen = 0;
        code = bench_call_once(url, body, len, 1000, &reply, &rlen, st);
        free(reply);
        if (code == EVREPL_CODE_OK) {
            break;
        }
        if ((child > 0 && !bench_alive(child)) || evri_now_ns() >= until) {
            break;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    free(body);
    return code;
}

static evrepl_code
spawn_server(bench *b, evrepl_status *st)
{
    char *path = b->o.evrepld != NULL ? strdup(b->o.evrepld) : self_dir_file("evrepld");
    if (path == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot find evrepld");
    }
    if (wordexp(b->o.spawn, &b->we, WRDE_NOCMD | WRDE_UNDEF) != 0) {
        free(path);
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "--spawn: cannot split the arguments into words");
    }
    b->we_used = true;
    size_t n = b->we.we_wordc;
    b->spawn_argv = calloc(n + 6, sizeof(char *));
    if (b->spawn_argv == NULL) {
        free(path);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    size_t k = 0;
    b->spawn_argv[k++] = path;
    for (size_t i = 0; i < n; i++) {
        b->spawn_argv[k++] = b->we.we_wordv[i];
    }
    if (!args_have(b->spawn_argv, k, "--listen")) {
        b->spawn_argv[k++] = (char *)"--listen";
        b->spawn_argv[k++] = mut(b->o.url);
    }
    // One info line per call is part of what a server does by default, but it measures the
    // log sink as much as the server; the bench says which level ran.
    if (!args_have(b->spawn_argv, k, "--log-level")) {
        b->spawn_argv[k++] = (char *)"--log-level";
        b->spawn_argv[k++] = (char *)"warn";
        b->log_level_note = "warn (set by the bench; pass --log-level in --spawn to change)";
    } else {
        b->log_level_note = "as given in --spawn";
    }
    b->spawn_argc = k;
    char log[128];
    snprintf(log, sizeof(log), "%s/evrepld.log", b->tmpdir);
    pid_t pid = bench_spawn(b->spawn_argv, log);
    if (pid < 0) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot start %s", path);
    }
    b->server_pid = pid;
    b->spawned = true;
    evrepl_code code = wait_ready(b->o.url, pid, st);
    if (code != EVREPL_CODE_OK) {
        char buf[512] = "";
        FILE *f = fopen(log, "r");
        if (f != NULL) {
            size_t got = fread(buf, 1, sizeof(buf) - 1, f);
            buf[got] = '\0';
            fclose(f);
        }
        return evri_status_set(st, EVREPL_CODE_UNAVAILABLE,
                               "the spawned evrepld did not answer Health: %.300s", buf);
    }
    return evri_status_ok(st);
}

// ---- the echo server ----------------------------------------------------------------------

static bool
free_tcp_port(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0;
    close(fd);
    *port = ntohs(a.sin_port);
    return ok;
}

static evrepl_code
start_echo(bench *b, evrepl_status *st)
{
    if (strncmp(b->o.url, "ipc://", 6) == 0) {
        snprintf(b->echo_url, sizeof(b->echo_url), "ipc://%s/echo.sock", b->tmpdir);
    } else {
        unsigned port;
        if (!free_tcp_port(&port)) {
            return evri_status_set(st, EVREPL_CODE_INTERNAL, "no free loopback port for echo");
        }
        snprintf(b->echo_url, sizeof(b->echo_url), "tcp://127.0.0.1:%u", port);
    }
    char reply_file[128], contexts[32], log[128];
    snprintf(reply_file, sizeof(reply_file), "%s/reply.bin", b->tmpdir);
    snprintf(log, sizeof(log), "%s/echo.log", b->tmpdir);
    snprintf(contexts, sizeof(contexts), "%u", b->o.concurrency + 8);
    FILE *f = fopen(reply_file, "wb");
    if (f == NULL || fwrite(b->reply, 1, b->reply_len, f) != b->reply_len) {
        if (f != NULL) {
            fclose(f);
        }
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot write %s", reply_file);
    }
    fclose(f);
    char *self = self_dir_file("evrepl-bench");
    char exe[] = "/proc/self/exe";
    char *argv[] = {self != NULL ? self : exe,
                    (char *)"--internal-echo",
                    b->echo_url,
                    (char *)"--reply-file",
                    reply_file,
                    (char *)"--contexts",
                    contexts,
                    NULL};
    b->echo_pid = bench_spawn(argv, log);
    free(self);
    if (b->echo_pid < 0) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "cannot start the echo server");
    }
    return bench_load_open(&b->echo, b->echo_url, b->o.concurrency, b->o.timeout_ms, st);
}

// ---- requests ---------------------------------------------------------------------------

static evrepl_code
build_body(bench *b, evrepl_status *st)
{
    evri_wbuf payload, env;
    evri_wbuf_init(&payload);
    evri_wbuf_init(&env);
    switch (b->o.m) {
    case M_HEALTH:
        evri_wire_pack_health_request("", &payload.base);
        break;
    case M_DESCRIBE:
        evri_wire_pack_describe_request(&payload.base);
        break;
    case M_PROPAGATE:
        evri_wire_pack_propagate_request(b->event_id, &payload.base);
        break;
    case M_VERIFY: {
        evrepl_verify_request vr = {.tail = b->o.tail, .full_audit = b->o.full};
        evri_wire_pack_verify_request(&vr, &payload.base);
        break;
    }
    case M_APPEND:
        return evri_status_ok(st);
    }
    Evrepl__Rpc__V1__Request req = EVREPL__RPC__V1__REQUEST__INIT;
    char method[64];
    snprintf(method, sizeof(method), "%s", method_paths[b->o.m]);
    req.method = method;
    req.payload.data = payload.data;
    req.payload.len = payload.len;
    req.timeout_ms = b->o.timeout_ms;
    evrepl__rpc__v1__request__pack_to_buffer(&req, &env.base);
    bool failed = payload.failed || env.failed;
    evri_wbuf_free(&payload);
    if (failed) {
        evri_wbuf_free(&env);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory");
    }
    b->body = env.data;
    b->body_len = env.len;
    return evri_status_ok(st);
}

static bool
inspect_verify(const uint8_t *p, size_t len, uint64_t x[BENCH_X_N])
{
    evrepl_verification v = {0};
    evrepl_status st;
    if (evri_wire_unpack_verification(p, len, &v, &st) != EVREPL_CODE_OK) {
        return false;
    }
    for (size_t i = 0; i < v.n_replicas; i++) {
        x[BENCH_X_EVENTS_CHECKED] += v.replicas[i].events_checked;
    }
    x[BENCH_X_LOG_EVENTS] += v.primary_head_sequence;
    if (!evrepl_verification_is_valid(&v)) {
        x[BENCH_X_PENDING]++; // counted as "not valid"
    }
    evrepl_verification_clear(&v);
    return true;
}

static bool
inspect_propagate(const uint8_t *p, size_t len, uint64_t x[BENCH_X_N])
{
    evrepl_receipt r = {0};
    evrepl_status st;
    if (evri_wire_unpack_receipt(p, len, &r, &st) != EVREPL_CODE_OK) {
        return false;
    }
    if (r.status != EVREPL_REPLICATION_STATUS_CONFIRMED &&
        r.status != EVREPL_REPLICATION_STATUS_NOT_CONFIGURED) {
        x[BENCH_X_PENDING]++;
    }
    evrepl_receipt_clear(&r);
    return true;
}

static bench_inspect_fn
inspector(bench_method m)
{
    return m == M_VERIFY ? inspect_verify : m == M_PROPAGATE ? inspect_propagate : NULL;
}

// ---- running ----------------------------------------------------------------------------

static void
append_run(bench *b, const bench_bounds *bb, bench_result *out, evri_pg_writer_stats *ws)
{
    static const char payload[] = "{\"bench\":\"append\"}";
    uint64_t t0 = evri_now_ns();
    uint64_t end = t0 + bb->duration_ns;
    evri_pg_writer_stats s0, s1;
    evri_pg_writer_stats_get(b->append_writer, &s0);
    memset(out, 0, sizeof(*out));
    for (uint64_t i = 0; (bb->max_calls == 0 || i < bb->max_calls) && evri_now_ns() < end; i++) {
        evrepl_status st;
        uint64_t s = evri_now_ns();
        evrepl_code code =
            evri_pg_writer_append(b->append_writer, "bench.append", (const uint8_t *)payload,
                                  sizeof(payload) - 1, b->o.append_events, NULL, NULL, &st);
        bench_hist_add(&out->hist, evri_now_ns() - s);
        out->calls++;
        out->out[(unsigned)code < BENCH_OUT_CODES ? (unsigned)code : BENCH_OUT_OTHER_CODE]++;
        if (code != EVREPL_CODE_OK) {
            fprintf(stderr, "evrepl-bench: append failed: %s\n", st.message);
            break;
        }
    }
    out->elapsed_ns = evri_now_ns() - t0;
    evri_pg_writer_stats_get(b->append_writer, &s1);
    ws->events += s1.events - s0.events;
    ws->batches += s1.batches - s0.batches;
    ws->sign_ns += s1.sign_ns - s0.sign_ns;
    ws->db_ns += s1.db_ns - s0.db_ns;
    ws->insert_ns += s1.insert_ns - s0.insert_ns;
}

// Runs target i for one phase.
static void
run_target(bench *b, size_t i, const bench_bounds *bb, bench_result *out)
{
    target *t = &b->t[i];
    if (i == 0) {
        if (b->o.m == M_APPEND) {
            append_run(b, bb, out, &t->writer);
        } else if (b->o.fresh) {
            bench_fresh_run(b->fresh, true, bb, out);
        } else {
            bench_load_run(b->load, b->body, b->body_len, bb, inspector(b->o.m), out);
        }
        return;
    }
    switch (b->o.baselines[i - 1]) {
    case B_NNG:
        bench_load_run(b->echo, b->body, b->body_len, bb, inspector(b->o.m), out);
        break;
    case B_PG:
        bench_pg_floor_run(b->pgf, bb, out);
        break;
    case B_REPLICATION:
        bench_fresh_run(b->fresh, false, bb, out);
        break;
    case B_CRYPTO:
        if (b->o.m == M_APPEND) {
            bench_crypto_run_sign(b->crypto, bb, out);
        } else {
            bench_crypto_run_verify(b->crypto, bb, out);
        }
        break;
    }
}

static pid_t
target_pid(const bench *b, size_t i)
{
    if (i == 0) {
        return b->o.m == M_APPEND ? 0 : b->server_pid;
    }
    return b->o.baselines[i - 1] == B_NNG ? b->echo_pid : 0;
}

static void
measure(bench *b)
{
    bench_bounds per_round = {
        .max_calls = b->o.requests > 0 ? (b->o.requests + b->o.rounds - 1) / b->o.rounds : 0,
        .duration_ns = (uint64_t)(b->o.duration_s * 1e9 / b->o.rounds),
    };
    if (per_round.duration_ns < EVRI_NS_PER_MS) {
        per_round.duration_ns = EVRI_NS_PER_MS;
    }
    if (b->o.warmup_s > 0) {
        bench_bounds w = {.max_calls = 0, .duration_ns = (uint64_t)(b->o.warmup_s * 1e9)};
        bench_result r;
        if (b->load != NULL) {
            // More contexts than measured, so that every worker of the server has connected
            // to its databases before the clock runs.
            unsigned wc = b->o.concurrency < 16 ? 16 : b->o.concurrency;
            bench_load *wl = NULL;
            evrepl_status st;
            if (bench_load_open(&wl, b->o.url, wc, b->o.timeout_ms, &st) == EVREPL_CODE_OK) {
                bench_load_run(wl, b->body, b->body_len, &w, NULL, &r);
                bench_load_close(wl);
            }
        }
        for (size_t i = 0; i < b->n_t; i++) {
            if (i == 0 && b->o.m == M_APPEND) {
                continue; // appending warms nothing but the log
            }
            bench_bounds wi = w;
            if (i == 0 && b->o.fresh) {
                wi.max_calls = 20;
            }
            if (i > 0 && b->o.baselines[i - 1] == B_REPLICATION) {
                wi.max_calls = 20;
            }
            run_target(b, i, &wi, &r);
        }
    }
    bench_proc_read(b->server_pid, &b->rss_before);
    for (unsigned round = 0; round < b->o.rounds; round++) {
        for (size_t i = 0; i < b->n_t; i++) {
            target *t = &b->t[i];
            bench_result r;
            bench_proc_sample p0, p1;
            pid_t pid = target_pid(b, i);
            bench_proc_read(pid, &p0);
            run_target(b, i, &per_round, &r);
            bench_proc_read(pid, &p1);
            if (p0.ok && p1.ok) {
                t->cpu_ns += p1.cpu_ns - p0.cpu_ns;
                t->has_cpu = true;
            }
            t->round_rate[round] =
                r.elapsed_ns > 0 ? (double)r.calls * 1e9 / (double)r.elapsed_ns : 0;
            bench_result_merge(&t->total, &r);
        }
    }
    bench_proc_read(b->server_pid, &b->rss_after);
}

// ---- report --------------------------------------------------------------------------------

static double
rate(const bench_result *r)
{
    return r->elapsed_ns > 0 ? (double)r->calls * 1e9 / (double)r->elapsed_ns : 0;
}

// Ops per CPU second of the thread that ran them (the crypto floors), else per wall second.
static double
core_rate(const bench_result *r)
{
    return r->thread_cpu_ns > 0 ? (double)r->calls * 1e9 / (double)r->thread_cpu_ns : rate(r);
}

static double
us(uint64_t ns)
{
    return (double)ns / 1e3;
}

static double
ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static const char *const quantile_names[] = {"p50", "p90", "p99", "p99.9"};
static const double quantiles[] = {0.50, 0.90, 0.99, 0.999};

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// The per-round ratios of target i's throughput to the server's: median, min, max.
static void
round_ratios(const bench *b, size_t i, double *med, double *lo, double *hi)
{
    double r[1000];
    unsigned n = b->o.rounds;
    for (unsigned k = 0; k < n; k++) {
        r[k] = ratio(b->t[0].round_rate[k], b->t[i].round_rate[k]);
    }
    qsort(r, n, sizeof(r[0]), cmp_double);
    *med = n % 2 == 1 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
    *lo = r[0];
    *hi = r[n - 1];
}

static const char *
outcome_name(unsigned o)
{
    static const char *const extra[] = {"OTHER_CODE", "CLIENT_TIMEOUT", "TRANSPORT_ERROR",
                                        "MALFORMED_REPLY", "NEGATIVE"};
    if (o < BENCH_OUT_CODES) {
        return evrepl_code_name((evrepl_code)o);
    }
    return extra[o - BENCH_OUT_CODES];
}

// Audit rate for verify --full: events checked (summed over replicas) per CPU second of the
// server.
static double
audit_rate(const target *t)
{
    return t->has_cpu && t->cpu_ns > 0
               ? (double)t->total.x[BENCH_X_EVENTS_CHECKED] * 1e9 / (double)t->cpu_ns
               : 0;
}

static json_object *
json_result(const bench *b, size_t i)
{
    const target *t = &b->t[i];
    const bench_result *r = &t->total;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(t->name));
    json_object_object_add(o, "what", json_object_new_string(t->label));
    json_object_object_add(o, "calls", json_object_new_uint64(r->calls));
    json_object_object_add(o, "seconds", json_object_new_double((double)r->elapsed_ns / 1e9));
    json_object_object_add(o, "calls_per_s", json_object_new_double(rate(r)));
    if (r->thread_cpu_ns > 0) {
        json_object_object_add(o, "calls_per_cpu_s", json_object_new_double(core_rate(r)));
    }
    json_object *lat = json_object_new_object();
    for (size_t q = 0; q < 4; q++) {
        json_object_object_add(
            lat, quantile_names[q],
            json_object_new_double(us(bench_hist_quantile(&r->hist, quantiles[q]))));
    }
    json_object_object_add(
        lat, "mean", json_object_new_double(r->hist.n > 0 ? us(r->hist.sum_ns / r->hist.n) : 0));
    json_object_object_add(lat, "max", json_object_new_double(us(r->hist.max_ns)));
    json_object_object_add(o, "latency_us", lat);
    json_object_object_add(o, "errors", json_object_new_uint64(bench_result_errors(r)));
    json_object *by = json_object_new_object();
    for (unsigned k = 1; k < BENCH_OUT_N; k++) {
        if (r->out[k] > 0) {
            json_object_object_add(by, outcome_name(k), json_object_new_uint64(r->out[k]));
        }
    }
    json_object_object_add(o, "errors_by_status", by);
    if (t->has_cpu) {
        json_object_object_add(o, "cpu_s", json_object_new_double((double)t->cpu_ns / 1e9));
        json_object_object_add(
            o, "cpu_s_per_1000_calls",
            json_object_new_double(r->calls > 0 ? (double)t->cpu_ns / 1e9 * 1000 / (double)r->calls
                                                : 0));
    }
    json_object *rr = json_object_new_array();
    for (unsigned k = 0; k < b->o.rounds; k++) {
        json_object_array_add(rr, json_object_new_double(t->round_rate[k]));
    }
    json_object_object_add(o, "round_calls_per_s", rr);
    if (i == 0 && b->o.m == M_VERIFY) {
        json_object_object_add(o, "events_checked",
                               json_object_new_uint64(r->x[BENCH_X_EVENTS_CHECKED]));
        json_object_object_add(o, "results_not_valid",
                               json_object_new_uint64(r->x[BENCH_X_PENDING]));
        json_object_object_add(
            o, "log_events",
            json_object_new_uint64(r->calls > 0 ? r->x[BENCH_X_LOG_EVENTS] / r->calls : 0));
        if (b->o.full) {
            json_object_object_add(o, "audit_events_per_cpu_s",
                                   json_object_new_double(audit_rate(t)));
        }
    }
    if (i == 0 && b->o.m == M_PROPAGATE) {
        json_object_object_add(o, "receipts_not_confirmed",
                               json_object_new_uint64(r->x[BENCH_X_PENDING]));
    }
    if (i == 0 && b->o.m == M_APPEND) {
        const evri_pg_writer_stats *w = &t->writer;
        json_object_object_add(o, "events", json_object_new_uint64(w->events));
        json_object_object_add(
            o, "events_per_s",
            json_object_new_double(ratio((double)w->events * 1e9, (double)r->elapsed_ns)));
        json_object_object_add(
            o, "insert_events_per_s",
            json_object_new_double(ratio((double)w->events * 1e9, (double)w->insert_ns)));
        json_object_object_add(
            o, "sign_events_per_s",
            json_object_new_double(ratio((double)w->events * 1e9, (double)w->sign_ns)));
    }
    if (i > 0) {
        const bench_result *a = &b->t[0].total;
        json_object *ro = json_object_new_object();
        json_object_object_add(ro, "throughput", json_object_new_double(ratio(rate(a), rate(r))));
        double med, lo, hi;
        round_ratios(b, i, &med, &lo, &hi);
        json_object_object_add(ro, "throughput_round_median", json_object_new_double(med));
        json_object_object_add(ro, "throughput_round_min", json_object_new_double(lo));
        json_object_object_add(ro, "throughput_round_max", json_object_new_double(hi));
        for (size_t q = 0; q < 4; q++) {
            json_object_object_add(
                ro, quantile_names[q],
                json_object_new_double(ratio((double)bench_hist_quantile(&a->hist, quantiles[q]),
                                             (double)bench_hist_quantile(&r->hist, quantiles[q]))));
        }
        if (t->has_cpu && b->t[0].has_cpu && a->calls > 0 && r->calls > 0) {
            json_object_object_add(
                ro, "cpu_per_call",
                json_object_new_double(ratio((double)b->t[0].cpu_ns / (double)a->calls,
                                             (double)t->cpu_ns / (double)r->calls)));
        }
        baseline bl = b->o.baselines[i - 1];
        if (bl == B_CRYPTO && b->o.m == M_VERIFY && b->o.full) {
            json_object_object_add(
                ro, "audit_per_core_vs_floor",
                json_object_new_double(ratio(audit_rate(&b->t[0]), core_rate(r))));
        }
        if (bl == B_CRYPTO && b->o.m == M_APPEND) {
            const target *a0 = &b->t[0];
            double ev = ratio((double)a0->writer.events * 1e9, (double)a->elapsed_ns);
            double ins = ratio((double)a0->writer.events * 1e9, (double)a0->writer.insert_ns);
            double floor = core_rate(r) < ins || ins == 0 ? core_rate(r) : ins;
            json_object_object_add(ro, "append_vs_floor", json_object_new_double(ratio(ev, floor)));
        }
        json_object_object_add(o, "ratio", ro);
    }
    return o;
}

static void
print_json(const bench *b)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "method", json_object_new_string(method_names[b->o.m]));
    json_object_object_add(o, "url", json_object_new_string(b->o.url));
    json_object_object_add(o, "concurrency", json_object_new_uint64(b->o.concurrency));
    json_object_object_add(o, "rounds", json_object_new_uint64(b->o.rounds));
    json_object_object_add(o, "fresh", json_object_new_boolean(b->o.fresh));
    if (b->o.m == M_VERIFY) {
        json_object_object_add(o, "tail", json_object_new_uint64(b->o.tail));
        json_object_object_add(o, "full", json_object_new_boolean(b->o.full));
    }
    if (b->o.m == M_PROPAGATE && !b->o.fresh) {
        json_object_object_add(o, "event_id", json_object_new_string(b->event_id));
    }
    json_object *srv = json_object_new_object();
    json_object_object_add(srv, "pid", json_object_new_int(b->server_pid));
    json_object_object_add(srv, "spawned", json_object_new_boolean(b->spawned));
    if (b->spawned) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < b->spawn_argc; i++) {
            json_object_array_add(a, json_object_new_string(b->spawn_argv[i]));
        }
        json_object_object_add(srv, "argv", a);
        json_object_object_add(srv, "log_level", json_object_new_string(b->log_level_note));
    }
    if (b->rss_before.ok) {
        json_object_object_add(srv, "rss_kb_before", json_object_new_uint64(b->rss_before.rss_kb));
        json_object_object_add(srv, "rss_kb_after", json_object_new_uint64(b->rss_after.rss_kb));
    }
    json_object_object_add(o, "server", srv);
    json_object_object_add(o, "measured", json_result(b, 0));
    json_object *bl = json_object_new_array();
    for (size_t i = 1; i < b->n_t; i++) {
        json_object_array_add(bl, json_result(b, i));
    }
    json_object_object_add(o, "baselines", bl);
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void
print_row(const char *name, const bench_result *r)
{
    printf("  %-12s %10" PRIu64 " %11.1f %9.1f %9.1f %9.1f %9.1f %7" PRIu64 "\n", name, r->calls,
           rate(r), us(bench_hist_quantile(&r->hist, 0.5)), us(bench_hist_quantile(&r->hist, 0.9)),
           us(bench_hist_quantile(&r->hist, 0.99)), us(bench_hist_quantile(&r->hist, 0.999)),
           bench_result_errors(r));
}

static void
print_text(const bench *b)
{
    const target *a = &b->t[0];
    printf("evrepl-bench: %s%s on %s, concurrency %u, %u rounds of %.2f s per target\n",
           method_names[b->o.m], b->o.fresh ? " --fresh" : "", b->o.url, b->o.concurrency,
           b->o.rounds, b->o.duration_s / b->o.rounds);
    if (b->spawned) {
        printf("server: spawned (pid %d):", (int)b->server_pid);
        for (size_t i = 0; i < b->spawn_argc; i++) {
            printf(" %s", b->spawn_argv[i]);
        }
        printf("\nserver log level: %s\n", b->log_level_note);
    } else if (b->server_pid > 0) {
        printf("server: pid %d (not spawned: its log level is its own)\n", (int)b->server_pid);
    }
    for (size_t i = 0; i < b->n_t; i++) {
        printf("  %-12s %s\n", b->t[i].name, b->t[i].label);
    }
    printf("  %-12s %10s %11s %9s %9s %9s %9s %7s\n", "", "calls", "calls/s", "p50 us", "p90 us",
           "p99 us", "p99.9 us", "errors");
    for (size_t i = 0; i < b->n_t; i++) {
        print_row(b->t[i].name, &b->t[i].total);
    }
    for (size_t i = 1; i < b->n_t; i++) {
        const bench_result *r = &b->t[i].total;
        double med, lo, hi;
        round_ratios(b, i, &med, &lo, &hi);
        printf("  ratio %s/%s: throughput %.3f (rounds: median %.3f, %.3f-%.3f), p50 %.3f, p90 "
               "%.3f, p99 %.3f, p99.9 %.3f\n",
               a->name, b->t[i].name, ratio(rate(&a->total), rate(r)), med, lo, hi,
               ratio((double)bench_hist_quantile(&a->total.hist, 0.5),
                     (double)bench_hist_quantile(&r->hist, 0.5)),
               ratio((double)bench_hist_quantile(&a->total.hist, 0.9),
                     (double)bench_hist_quantile(&r->hist, 0.9)),
               ratio((double)bench_hist_quantile(&a->total.hist, 0.99),
                     (double)bench_hist_quantile(&r->hist, 0.99)),
               ratio((double)bench_hist_quantile(&a->total.hist, 0.999),
                     (double)bench_hist_quantile(&r->hist, 0.999)));
    }
    for (size_t i = 0; i < b->n_t; i++) {
        const bench_result *r = &b->t[i].total;
        if (bench_result_errors(r) == 0) {
            continue;
        }
        printf("  errors of %s by status:", b->t[i].name);
        for (unsigned k = 1; k < BENCH_OUT_N; k++) {
            if (r->out[k] > 0) {
                printf(" %s=%" PRIu64, outcome_name(k), r->out[k]);
            }
        }
        printf("\n");
    }
    if (b->o.m == M_VERIFY) {
        printf("  verify: %" PRIu64 " log events at the head (mean), %" PRIu64
               " events checked in all, %" PRIu64 " results not valid\n",
               a->total.calls > 0 ? a->total.x[BENCH_X_LOG_EVENTS] / a->total.calls : 0,
               a->total.x[BENCH_X_EVENTS_CHECKED], a->total.x[BENCH_X_PENDING]);
    }
    if (b->o.m == M_PROPAGATE) {
        printf("  propagate: %" PRIu64 " receipts not CONFIRMED\n", a->total.x[BENCH_X_PENDING]);
    }
    if (b->o.m == M_APPEND) {
        const evri_pg_writer_stats *w = &a->writer;
        printf("  append: %" PRIu64 " events, %.0f events/s; signing alone %.0f events/s, the "
               "primary's inserts alone %.0f events/s (from the writer's own timing)\n",
               w->events, ratio((double)w->events * 1e9, (double)a->total.elapsed_ns),
               ratio((double)w->events * 1e9, (double)w->sign_ns),
               ratio((double)w->events * 1e9, (double)w->insert_ns));
    }
    for (size_t i = 0; i < b->n_t; i++) {
        const target *t = &b->t[i];
        if (t->has_cpu && t->total.calls > 0) {
            printf("  cpu of %s's server: %.4f s per 1000 calls (%.2f cores busy)\n", t->name,
                   (double)t->cpu_ns / 1e9 * 1000 / (double)t->total.calls,
                   ratio((double)t->cpu_ns, (double)t->total.elapsed_ns));
        }
    }
    if (b->rss_before.ok && b->rss_after.ok) {
        printf("  evrepld RSS: %.1f MiB before, %.1f MiB after\n",
               (double)b->rss_before.rss_kb / 1024, (double)b->rss_after.rss_kb / 1024);
    }
    for (size_t i = 1; i < b->n_t; i++) {
        baseline bl = b->o.baselines[i - 1];
        if (bl == B_CRYPTO && b->o.m == M_VERIFY && b->o.full && a->has_cpu) {
            uint64_t log = a->total.calls > 0 ? a->total.x[BENCH_X_LOG_EVENTS] / a->total.calls : 0;
            double per_log_event = a->total.x[BENCH_X_EVENTS_CHECKED] > 0 && log > 0
                                       ? audit_rate(a) * (double)(log * a->total.calls) /
                                             (double)a->total.x[BENCH_X_EVENTS_CHECKED]
                                       : 0;
            printf("  audit: %.0f events checked (each replica's copy) and %.0f log events per "
                   "server CPU second; floor %.0f per CPU second (one thread, SHA-256 + verify "
                   "of a %zu-byte event): ratio %.3f (per log event %.3f)\n",
                   audit_rate(a), per_log_event, core_rate(&b->t[i].total),
                   bench_crypto_event_bytes(b->crypto),
                   ratio(audit_rate(a), core_rate(&b->t[i].total)),
                   ratio(per_log_event, core_rate(&b->t[i].total)));
        }
        if (bl == B_CRYPTO && b->o.m == M_APPEND) {
            const evri_pg_writer_stats *w = &a->writer;
            double ev = ratio((double)w->events * 1e9, (double)a->total.elapsed_ns);
            double ins = ratio((double)w->events * 1e9, (double)w->insert_ns);
            double sign = core_rate(&b->t[i].total);
            double floor = ins > 0 && ins < sign ? ins : sign;
            printf("  append: %.0f events/s vs the lower of signing (%.0f/s, one thread) and "
                   "inserting (%.0f/s): ratio %.3f\n",
                   ev, sign, ins, ratio(ev, floor));
        }
    }
}

// ---- main ----------------------------------------------------------------------------------

static void
target_init(target *t, const char *name, const char *label, unsigned rounds)
{
    t->name = name;
    t->label = label;
    t->round_rate = calloc(rounds, sizeof(double));
}

static evrepl_code
setup(bench *b, evrepl_status *st)
{
    evrepl_code code;
    static char label0[160];
    bench_pg_targets pt = {
        .primary = b->o.db, .replicas = b->o.replicas, .n_replicas = b->o.n_replicas};
    if (b->o.spawn != NULL && b->o.m != M_APPEND &&
        (code = spawn_server(b, st)) != EVREPL_CODE_OK) {
        return code;
    }
    if (b->o.server_pid > 0) {
        b->server_pid = b->o.server_pid;
    }
    if (b->o.m == M_PROPAGATE && !b->o.fresh) {
        if (b->o.event_id != NULL) {
            snprintf(b->event_id, sizeof(b->event_id), "%s", b->o.event_id);
        } else if (b->o.db != NULL) {
            if ((code = bench_pg_recent_event(b->o.db, b->event_id, st)) != EVREPL_CODE_OK) {
                return code;
            }
        } else {
            snprintf(b->event_id, sizeof(b->event_id), "%s", STUB_EVENT_ID);
        }
    }
    if ((code = build_body(b, st)) != EVREPL_CODE_OK) {
        return code;
    }
    snprintf(label0, sizeof(label0), "%s%s",
             b->o.m == M_APPEND ? "evrepl append (the writer)" : "evrepld at ",
             b->o.m == M_APPEND ? "" : b->o.url);
    target_init(&b->t[b->n_t++], b->o.m == M_APPEND ? "append" : "evrepld", label0, b->o.rounds);
    if (b->o.m == M_APPEND) {
        if ((code = evri_keyfile_read(&b->append_signer, b->o.key, st)) != EVREPL_CODE_OK ||
            (code = evri_pg_writer_open(&b->append_writer, b->o.db, b->append_signer, st)) !=
                EVREPL_CODE_OK) {
            return code;
        }
    } else if (!b->o.fresh) {
        // One real answer first: it checks the server, and the echo server replays its bytes.
        if ((code = bench_call_once(b->o.url, b->body, b->body_len, b->o.timeout_ms, &b->reply,
                                    &b->reply_len, st)) != EVREPL_CODE_OK) {
            return code;
        }
        if ((code = bench_load_open(&b->load, b->o.url, b->o.concurrency, b->o.timeout_ms, st)) !=
            EVREPL_CODE_OK) {
            return code;
        }
    }
    bool need_fresh = b->o.fresh;
    for (size_t i = 0; i < b->o.n_baselines; i++) {
        need_fresh = need_fresh || b->o.baselines[i] == B_REPLICATION;
    }
    if (need_fresh &&
        (code = bench_fresh_open(&b->fresh, &pt, b->o.key, b->o.fresh ? b->o.url : NULL,
                                 b->o.timeout_ms, b->o.replication_notify, st)) != EVREPL_CODE_OK) {
        return code;
    }
    for (size_t i = 0; i < b->o.n_baselines; i++) {
        switch (b->o.baselines[i]) {
        case B_NNG:
            code = start_echo(b, st);
            target_init(&b->t[b->n_t++], "nng",
                        "bare NNG rep0 echo (aio callbacks, same URL kind, concurrency and reply "
                        "bytes)",
                        b->o.rounds);
            break;
        case B_PG:
            code = bench_pg_floor_open(&b->pgf, &pt, b->o.concurrency, st);
            target_init(&b->t[b->n_t++], "pg",
                        "one parallel SELECT 1 to the primary and every replica (non-blocking "
                        "libpq)",
                        b->o.rounds);
            break;
        case B_REPLICATION:
            target_init(&b->t[b->n_t++], "replication",
                        b->o.replication_notify
                            ? "commit on the primary until every replica's apply notification"
                            : "commit on the primary until visible on every replica (tight "
                              "polling)",
                        b->o.rounds);
            break;
        case B_CRYPTO:
            code = bench_crypto_open(&b->crypto, b->o.db, st);
            target_init(&b->t[b->n_t++], "crypto",
                        b->o.m == M_APPEND
                            ? "one thread: SHA-256 + Ed25519 sign of one event (libsodium)"
                            : "one thread: SHA-256 + Ed25519 verify of one event (libsodium)",
                        b->o.rounds);
            break;
        }
        if (code != EVREPL_CODE_OK) {
            return code;
        }
    }
    return evri_status_ok(st);
}

static void
teardown(bench *b)
{
    bench_load_close(b->load);
    bench_load_close(b->echo);
    bench_pg_floor_close(b->pgf);
    bench_fresh_close(b->fresh);
    bench_crypto_close(b->crypto);
    evri_pg_writer_close(b->append_writer);
    evri_signer_destroy(b->append_signer);
    if (b->echo_pid > 0) {
        bench_stop(b->echo_pid, STOP_WAIT_MS);
    }
    if (b->spawned) {
        bench_stop(b->server_pid, STOP_WAIT_MS);
    }
    if (b->spawn_argv != NULL) {
        free(b->spawn_argv[0]);
        free(b->spawn_argv);
    }
    if (b->we_used) {
        wordfree(&b->we);
    }
    for (size_t i = 0; i < b->n_t; i++) {
        free(b->t[i].round_rate);
    }
    free(b->body);
    free(b->reply);
    if (b->tmpdir[0] != '\0') {
        // Only the files this run made.
        static const char *const files[] = {"evrepld.log", "echo.log", "reply.bin", "echo.sock"};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            char p[128];
            snprintf(p, sizeof(p), "%s/%s", b->tmpdir, files[i]);
            unlink(p);
        }
        rmdir(b->tmpdir);
    }
}

int
main(int argc, char **argv)
{
    static bench b;
    int rc = parse_args(&b.o, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(b.tmpdir, sizeof(b.tmpdir), "/tmp/evrepl-bench.XXXXXX");
    if (mkdtemp(b.tmpdir) == NULL) {
        fprintf(stderr, "evrepl-bench: cannot make a temporary folder: %s\n", strerror(errno));
        return EXIT_ERROR;
    }
    evrepl_status st = {EVREPL_CODE_OK, ""};
    if (setup(&b, &st) != EVREPL_CODE_OK) {
        fprintf(stderr, "evrepl-bench: %s\n", st.message);
        teardown(&b);
        return EXIT_ERROR;
    }
    measure(&b);
    if (b.o.json) {
        print_json(&b);
    } else {
        print_text(&b);
    }
    rc = EXIT_OK;
    for (size_t i = 0; i < b.n_t; i++) {
        if (bench_result_errors(&b.t[i].total) > 0 || b.t[i].total.calls == 0) {
            rc = EXIT_FAILED;
        }
    }
    fflush(stdout);
    teardown(&b);
    return rc;
}
