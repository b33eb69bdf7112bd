#include "support/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
evri_test_tmpdir(char out[256])
{
    const char *base = getenv("TMPDIR");
    snprintf(out, 256, "%s/evrepl-test-XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp");
    return mkdtemp(out) != NULL;
}

void
evri_test_rmdir(const char *dir)
{
    char cmd[512];
    if (dir == NULL || strncmp(dir, "/", 1) != 0 || strstr(dir, "evrepl-test-") == NULL) {
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "warning: cannot remove %s\n", dir);
    }
}

bool
evri_test_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci != NULL && (strcmp(ci, "true") == 0 || strcmp(ci, "1") == 0);
}
