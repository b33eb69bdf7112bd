// Fuzz target: evrepld's config file reader (libconfig syntax; src/server/config.c) and the
// checks and masked printout that follow it, through a temporary file as evrepld reads one.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "server/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[256];
    static int fd = -1;
    static FILE *sink;
    if (fd < 0) {
        // In memory when /dev/shm is there: a disk file's truncate and write cost more than
        // the parse.
        const char *tmp = getenv("TMPDIR");
        if (access("/dev/shm", W_OK) == 0) {
            tmp = "/dev/shm";
        }
        snprintf(path, sizeof(path), "%s/evrepl-fuzz-config-XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if ((fd = mkstemp(path)) < 0 || (sink = fopen("/dev/null", "w")) == NULL) {
            abort();
        }
        // The file is gone when the process ends; the open descriptor keeps it usable.
        (void)unlink(path);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        abort();
    }
    evri_config cfg;
    evrepl_status st;
    evri_config_init(&cfg);
    if (evri_config_load_file(&cfg, path, &st) == EVREPL_CODE_OK &&
        evri_config_finish(&cfg, &st) == EVREPL_CODE_OK) {
        evri_config_print(&cfg, sink);
    }
    evri_config_clear(&cfg);
    return 0;
}
