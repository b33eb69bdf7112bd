// Child processes for tests: spawn a program with its output in files, wait with a
// deadline, signal it.
#ifndef EVREPL_TESTS_SUPPORT_PROC_H
#define EVREPL_TESTS_SUPPORT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tproc {
    pid_t pid;
    char out_path[300];
    char err_path[300];
} tproc;

// Starts argv[0] (a path) with stdout/stderr into files under dir. False if it cannot start.
bool tproc_start(tproc *p, const char *dir, char *const argv[]);

// Waits up to timeout_ms for the child; returns its exit code, 128+signal, or -1 on timeout
// (the child is then killed).
int tproc_wait(tproc *p, int timeout_ms);

// Runs argv to completion (timeout_ms) and returns the exit code; stdout/stderr are read into
// the caller's buffers (NUL-terminated, truncated to size).
int tproc_run(const char *dir, char *const argv[], int timeout_ms, char *out, size_t out_size,
              char *err, size_t err_size);

// Reads a whole small file into buf (NUL-terminated). Returns bytes read or -1.
long tproc_slurp(const char *path, char *buf, size_t size);

// The resident set size of a running process in kB (VmRSS), or -1.
long tproc_rss_kb(pid_t pid);

// A free TCP port on 127.0.0.1 (bound and released; racy but fine for tests).
int tproc_free_port(void);

// Waits until url answers Health/Check for the whole server with SERVING (a fresh client per
// try, every 25 ms), for at most timeout_ms. True when it did.
bool tproc_await_serving(const char *url, int timeout_ms);

// The directory of the built programs ($EVREPL_BIN_DIR).
const char *tproc_bin_dir(void);

#endif // EVREPL_TESTS_SUPPORT_PROC_H
