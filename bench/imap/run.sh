#!/bin/sh
# Runs Dovecot and listserv side by side on the same generated archive
# and prints the ratios (see bench/imap/main.go). Installs dovecot-imapd
# and isync (mbsync) with apt-get when they are missing and apt-get is
# usable (as root); Dovecot runs from a configuration in a temporary
# directory on a loopback port, never as the system service.
#
#   bench/imap/run.sh                 # 10,000 posts, 5 runs per measure
#   bench/imap/run.sh -n 2000 -runs 3 # smaller
set -eu
cd "$(dirname "$0")/../.."
missing=""
command -v dovecot >/dev/null 2>&1 || missing="$missing dovecot-imapd"
command -v mbsync >/dev/null 2>&1 || missing="$missing isync"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d (or no init system) keeps the packaged service stopped.
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "missing:$missing (install them, e.g. apt-get install$missing)" >&2
    exit 1
  fi
fi
echo "# $(dovecot --version | sed 's/^/dovecot /'), $(mbsync --version), $(go version | cut -d' ' -f3)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
go run ./bench/imap "$@"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
