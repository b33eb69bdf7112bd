// Child processes (evrepld, the echo server) and their resource figures from /proc.
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

// CPU time from the scheduler's per-thread figures (ns, unlike /proc/PID/stat's 10 ms ticks).
// The servers measured keep their threads for life, so summing the live ones misses nothing;
// when schedstat is missing, /proc/PID/stat's ticks are the fallback.
static bool
proc_cpu_schedstat(pid_t pid, uint64_t *ns)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return false;
    }
    uint64_t sum = 0;
    bool any = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char p[128];
        snprintf(p, sizeof(p), "/proc/%d/task/%.32s/schedstat", (int)pid, de->d_name);
        FILE *f = fopen(p, "r");
        if (f == NULL) {
            continue; // the thread just exited
        }
        uint64_t run = 0;
        if (fscanf(f, "%" SCNu64, &run) == 1) {
            sum += run;
            any = true;
        }
        fclose(f);
    }
    closedir(d);
    *ns = sum;
    return any;
}

static bool
proc_cpu_stat(pid_t pid, uint64_t *ns)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); // the command name may hold spaces
    unsigned long long ut = 0, stt = 0;
    // After ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
    if (p == NULL ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2) {
        return false;
    }
    long tck = sysconf(_SC_CLK_TCK);
    *ns = (ut + stt) * (1000000000ull / (uint64_t)(tck > 0 ? tck : 100));
    return true;
}

void
bench_proc_read(pid_t pid, bench_proc_sample *out)
{
    memset(out, 0, sizeof(*out));
    if (pid <= 0) {
        return;
    }
    if (!proc_cpu_schedstat(pid, &out->cpu_ns) && !proc_cpu_stat(pid, &out->cpu_ns)) {
        return;
    }
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long kb;
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) {
            out->rss_kb = kb;
            out->ok = true;
        }
    }
    fclose(f);
}

pid_t
bench_spawn(char *const argv[], const char *log_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    pid_t pid = -1;
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_init(&attr);
    // The child starts with no signals blocked, whatever this process blocks.
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

bool
bench_alive(pid_t pid)
{
    int status;
    return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

int
bench_stop(pid_t pid, int timeout_ms)
{
    int status;
    if (pid <= 0) {
        return -1;
    }
    kill(pid, SIGTERM);
    for (int waited = 0;; waited += 5) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            break;
        }
        if (r < 0) {
            return -1;
        }
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            if (waitpid(pid, &status, 0) != pid) {
                return -1;
            }
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + WTERMSIG(status);
}
