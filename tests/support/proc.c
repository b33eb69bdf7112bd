#include "support/proc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evrepl/client.h"

extern char **environ;

static unsigned proc_seq;

bool
tproc_start(tproc *p, const char *dir, char *const argv[])
{
    posix_spawn_file_actions_t fa;
    unsigned n = ++proc_seq;
    snprintf(p->out_path, sizeof(p->out_path), "%s/proc-%u.out", dir, n);
    snprintf(p->err_path, sizeof(p->err_path), "%s/proc-%u.err", dir, n);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&p->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0;
}

int
tproc_wait(tproc *p, int timeout_ms)
{
    int status;
    for (int waited = 0;; waited += 5) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            break;
        }
        if (waited >= timeout_ms) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            return -1;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + WTERMSIG(status);
}

long
tproc_slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        buf[0] = '\0';
        return -1;
    }
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (long)n;
}

int
tproc_run(const char *dir, char *const argv[], int timeout_ms, char *out, size_t out_size,
          char *err, size_t err_size)
{
    tproc p;
    if (!tproc_start(&p, dir, argv)) {
        return -2;
    }
    int rc = tproc_wait(&p, timeout_ms);
    if (out != NULL) {
        tproc_slurp(p.out_path, out, out_size);
    }
    if (err != NULL) {
        tproc_slurp(p.err_path, err, err_size);
    }
    return rc;
}

int
tproc_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

const char *
tproc_bin_dir(void)
{
    const char *d = getenv("EVREPL_BIN_DIR");
    return d != NULL ? d : "build/bin";
}

bool
tproc_await_serving(const char *url, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 25) {
        evrepl_client_opts o = {.url = url, .timeout_ms = 500};
        evrepl_client *c = NULL;
        evrepl_status st;
        if (evrepl_client_create(&c, &o, &st) == EVREPL_CODE_OK) {
            evrepl_serving_status h = EVREPL_SERVING_STATUS_UNKNOWN;
            evrepl_code code = evrepl_client_health_check(c, "", NULL, &h, &st);
            evrepl_client_destroy(c);
            if (code == EVREPL_CODE_OK && h == EVREPL_SERVING_STATUS_SERVING) {
                return true;
            }
        }
        struct timespec ts = {0, 25 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

long
tproc_rss_kb(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (tproc_slurp(path, buf, sizeof(buf)) <= 0) {
        return -1;
    }
    const char *p = strstr(buf, "VmRSS:");
    return p != NULL ? strtol(p + 6, NULL, 10) : -1;
}
