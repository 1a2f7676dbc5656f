#!/usr/bin/env bash
# Start the local Debian PostgreSQL cluster (as root) and make sure the test role exists:
# role uhadmin, password uhadmin, superuser so tests can create and drop their databases.
# Idempotent: used by .ci/run and by the test fixtures when UHADMIN_TEST_POSTGRES_URL is unset.
set -euo pipefail

version="${PG_VERSION:-15}"
cluster="${PG_CLUSTER:-main}"
cd /tmp  # psql run as postgres warns when it cannot read the caller's directory

status="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}')"
if [ -z "$status" ]; then
    echo "start_postgres: no PostgreSQL cluster $version/$cluster (see pg_lsclusters)" >&2
    exit 1
fi
if [ "$status" != "online" ]; then
    pg_ctlcluster "$version" "$cluster" start
fi
port="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $3}')"

for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || { echo "start_postgres: server did not come up" >&2; exit 1; }

if ! runuser -u postgres -- psql -p "$port" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'uhadmin'" | grep -q 1; then
    runuser -u postgres -- psql -p "$port" -q -c "CREATE ROLE uhadmin LOGIN SUPERUSER PASSWORD 'uhadmin'"
fi
echo "postgresql+psycopg://uhadmin:uhadmin@127.0.0.1:$port/postgres"
