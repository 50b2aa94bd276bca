# Shared by scripts/demo and scripts/test: makes sure the build tools pingora needs are here.
# pingora's C dependencies (zlib-ng, zstd) need cmake and a C compiler even without TLS.

ensure_build_tools() {
  local missing=()
  command -v cargo >/dev/null 2>&1 || { echo "scim-gateway: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2; exit 1; }
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  command -v cc >/dev/null 2>&1 || missing+=(gcc)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "scim-gateway: installing ${missing[*]} (needed to build pingora)..." >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
      echo "scim-gateway: could not install ${missing[*]}; install them yourself: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  else
    echo "scim-gateway: ${missing[*]} missing; install with: sudo apt-get install ${missing[*]}  (pingora needs them to build)" >&2
    exit 1
  fi
}

# promtool (Debian's prometheus package) checks deploy/prometheus/ in tests/deploy_files.rs.
# Optional: when it cannot be installed, that test says SKIPPED and the rest still runs.
ensure_promtool() {
  command -v promtool >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "scim-gateway: installing promtool (Debian package prometheus) for the alert rule checks..." >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
      || echo "scim-gateway: could not install prometheus; the promtool checks will be skipped" >&2
  else
    echo "scim-gateway: promtool not found; the alert rule checks will be skipped (apt-get install prometheus)" >&2
  fi
}

# PostgreSQL's server binaries (initdb, pg_ctl; Debian's postgresql package): the group store's
# tests start a throw-away cluster of their own (tests/common/postgres.rs). The package's own
# default cluster is not created, so no server is left running.
ensure_postgres() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  command -v initdb >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "scim-gateway: installing PostgreSQL (Debian package postgresql) for the group store tests..." >&2
    mkdir -p /etc/postgresql-common
    [ -e /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }; then
      echo "scim-gateway: could not install postgresql; install it yourself: apt-get install postgresql" >&2
      exit 1
    fi
  else
    echo "scim-gateway: PostgreSQL (initdb) missing; install with: sudo apt-get install postgresql  (the group store tests start their own server)" >&2
    exit 1
  fi
}
