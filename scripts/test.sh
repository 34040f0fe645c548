#!/usr/bin/env bash
# Installs what the test suite needs when it is missing, then runs every test.
#   moto_server         S3/SQS/SNS/STS emulator (pip: moto[server])
#   azurite-blob        Azure Blob Storage emulator (npm: azurite@3.35.0, the last for Node 20)
#   logger, rsyslogd    syslog clients (util-linux; apt: rsyslog rsyslog-gnutls rsyslog-relp)
#   openssl             test certificates for TLS
# Tests start and stop these servers themselves, on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="$PWD/.tools"
mkdir -p "$tools"
export PATH="$tools/node_modules/.bin:$PATH"

if ! command -v moto_server >/dev/null 2>&1; then
  echo "== installing moto (pip)"
  pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6'
fi

missing_apt=()
command -v logger >/dev/null 2>&1 || missing_apt+=(bsdutils)
command -v rsyslogd >/dev/null 2>&1 || missing_apt+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so ] || [ -e /usr/lib/rsyslog/omrelp.so ] \
  || ls /usr/lib/*/rsyslog/omrelp.so >/dev/null 2>&1 || missing_apt+=(rsyslog-relp)
ls /usr/lib/*/rsyslog/lmnsd_gtls.so /usr/lib/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || missing_apt+=(rsyslog-gnutls)
command -v openssl >/dev/null 2>&1 || missing_apt+=(openssl)
command -v npm >/dev/null 2>&1 || missing_apt+=(npm)
if [ ${#missing_apt[@]} -gt 0 ]; then
  echo "== installing ${missing_apt[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_apt[@]}" >/dev/null
fi

if ! command -v azurite-blob >/dev/null 2>&1; then
  echo "== installing azurite 3.35.0 (npm, into .tools/)"
  npm install --silent --prefix "$tools" azurite@3.35.0 >/dev/null
fi

echo "== cargo test --workspace"
cargo test --workspace "$@"
