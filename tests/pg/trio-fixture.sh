#!/usr/bin/env bash
# The ctest fixture of the pg suites: `tools/trio up` / `down` on the build tree's own trio
# (EVREPL_TRIO_DIR, EVREPL_TRIO_PORT and EVREPL_BIN come from the test's environment).
#
# up exits 77, which ctest reports as skipped, when PostgreSQL cannot be started on this
# machine; under CI=true that is a failure instead (style.md: the pg suite never passes by
# skipping in CI). Every suite checks for the trio itself too, because ctest still runs the
# suites of a skipped fixture.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../tools/trio" "$@"
rc=$?
if [ "$rc" = 77 ]; then
  case "${CI:-}" in
    true | 1)
      echo "trio-fixture: PostgreSQL cannot be started here, and CI=true: failing" >&2
      exit 1
      ;;
  esac
fi
exit "$rc"
