# Shared helpers for scripts/dev and scripts/test. Sourced, not run.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Prints the directory holding initdb and postgres, or nothing.
pg_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; return; fi
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; return; fi
    done
    d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; fi
}

# Makes sure PostgreSQL server binaries exist, installing Debian's package when root.
ensure_postgres_binaries() {
    if [ -n "$(pg_bindir)" ]; then return; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing PostgreSQL (Debian package postgresql)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        [ -n "$(pg_bindir)" ] || die "PostgreSQL was installed but initdb/postgres are still not found"
    else
        die "PostgreSQL server binaries (initdb, postgres) are not installed.
Install them as root (Debian/Ubuntu: sudo apt-get install postgresql), or set DATABASE_URL to an existing server."
    fi
}

# Makes sure cargo exists.
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo is not installed: install a Rust toolchain (https://rustup.rs), then run this again."
}
