#!/bin/sh
# `make test` needs PostgreSQL's server binaries (tests/grader/test_postgres.py starts a private server and
# stops it). Installs Debian's postgresql when they are missing (as root), without starting its own service.
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "PostgreSQL server for the gradebook tests: $(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -n 1)"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "make test: the PostgreSQL server is needed (tests/grader/test_postgres.py): apt-get install -y postgresql" >&2
    exit 1
fi
echo "Installing PostgreSQL (Debian's postgresql package) for the gradebook tests..."
# policy-rc.d 101: the package's own cluster is not started (the tests run a private one and stop it).
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
fi
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
status=$?
if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
if [ $status != 0 ]; then echo "make test: installing postgresql failed (apt-get exit $status)" >&2; fi
exit $status
