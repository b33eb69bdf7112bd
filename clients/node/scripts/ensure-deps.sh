#!/bin/sh
# Installs clients/node's npm dependencies exactly as package-lock.json pins them (npm ci),
# unless node_modules already holds that lock's install. Cheap when nothing changed: the
# SHA-256 of package-lock.json is stamped into node_modules after a successful install.
# Concurrent runs (two build trees testing at once) serialise on a lock outside the tree.
set -eu
cd "$(dirname "$0")/.."

for tool in node npm sha256sum; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "ensure-deps: $tool is missing (run tools/deps)" >&2
    exit 1
  fi
done

stamp=node_modules/.evrepl-package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
installed() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f node_modules/protobufjs/package.json ]; }

if installed; then
  echo "ensure-deps: node_modules matches package-lock.json"
  exit 0
fi

lock="${TMPDIR:-/tmp}/evrepl-npm-ci-$(pwd | sha256sum | cut -c1-16).lock"
exec 9>"$lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
if installed; then # another run installed it while we waited
  exit 0
fi
echo "ensure-deps: npm ci in $(pwd)"
npm ci --no-audit --no-fund --prefer-offline --loglevel=error
echo "$want" >"$stamp"
