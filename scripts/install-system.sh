#!/usr/bin/env bash
# Installs the Debian packages that the test suites need (one list per feature in
# scripts/system-packages/*.txt, one package a line, '#' starts a comment). Skips what is installed.
# Needs root (as on CI); otherwise prints the command to run and carries on.
set -euo pipefail
cd "$(dirname "$0")"
wanted=$(cat system-packages/*.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system: missing Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})" >&2
  exit 0
fi
echo "install-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
