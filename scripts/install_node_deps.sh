#!/usr/bin/env bash
# The Node packages the end-to-end snippet and route.ts tests run with (the official `stripe`
# package, tsx): installed from the lock file into tests/node/node_modules (git-ignored).
# Run by .ci/run and by a developer once; never by a test.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix tests/node --no-audit --no-fund
