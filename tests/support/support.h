// Helpers shared by the test suites.
#ifndef EVREPL_TESTS_SUPPORT_SUPPORT_H
#define EVREPL_TESTS_SUPPORT_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

// A fresh private directory under $TMPDIR (or /tmp), removed with evri_test_rmdir(). The
// returned string is static per call site buffer owned by the caller (size 256).
bool evri_test_tmpdir(char out[256]);
void evri_test_rmdir(const char *dir);

// True when running under CI (CI=true): tests that need a service must not be skipped.
bool evri_test_in_ci(void);

#endif // EVREPL_TESTS_SUPPORT_SUPPORT_H
