#!/usr/bin/env bash
# Installs the Node packages the tests drive (tests/node/package.json, exactly as locked in
# package-lock.json) into tests/node/node_modules, which git ignores. Installs Debian's
# nodejs and npm first when node is missing (needs root, as .ci/run has). Tests never
# download anything: they skip locally, and fail on CI, without what this installs.
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install_node_deps: installing Debian's nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm
fi

echo "install_node_deps: node $(node --version), npm $(npm --version)"
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
