#!/usr/bin/env bash
# Installs the Debian packages Siyu's `make run` / `make test` need, only those that are missing.
#   devstack/system-deps.sh java node faketime chromium   (names below; unknown names are an error)
# As root it runs apt-get itself; otherwise through `sudo -n` when that works, else it prints the command to run.
set -euo pipefail

declare -A CHECK=(  # what proves the need is met
  [java]='java -version'
  [node]='node --version && npm --version'
  [faketime]='faketime -f "+0s" true'
  [chromium]='chromium --version && dpkg -s fonts-wqy-zenhei'
)
declare -A PACKAGES=(  # Debian packages that meet it
  [java]='openjdk-17-jdk-headless'
  [node]='nodejs npm'
  [faketime]='faketime'
  [chromium]='chromium fonts-wqy-zenhei'  # the dashboard's browser test; a CJK font so its screenshot shows Chinese
)

missing=()
for need in "$@"; do
  if [[ -z "${CHECK[$need]+x}" ]]; then echo "system-deps: unknown need '$need'" >&2; exit 2; fi
  if ! bash -c "${CHECK[$need]}" >/dev/null 2>&1; then missing+=(${PACKAGES[$need]}); fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "system-deps: run  sudo apt-get update && sudo apt-get install -y ${missing[*]}  and try again" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "system-deps: no apt-get here; install ${missing[*]} with your system's package manager" >&2; exit 1
fi
echo "system-deps: installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
