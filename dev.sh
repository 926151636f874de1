#!/usr/bin/env bash
# Set up this checkout on Debian 12 (as root) and run it.
#   bash dev.sh demo     install what is missing, then start `kiosk demo`
#   bash dev.sh test     install what is missing, then run the whole test suite
#   bash dev.sh setup    only install
# Debian packages are installed only when missing; the Python environment lives in .venv and
# is refreshed when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc make swig libpcsclite-dev  # to build pyscard
  pcscd libccid pcsc-tools vsmartcard-vpcd                         # PC/SC stack + virtual reader
  mosquitto mosquitto-clients openssl                              # broker and certificates
  fonts-ipaexfont-gothic fontconfig xvfb                           # Japanese screens, virtual display
  postgresql                                                       # the hub's production database, in tests
  systemd                                                          # systemd-analyze verify for the units
)

install_debian_packages() {
  local missing=() package
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  if ((${#missing[@]})); then
    echo "dev.sh: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

install_python_packages() {
  [ -x .venv/bin/python ] || python3 -m venv .venv
  if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[test,hub,camera]'
    touch .venv/.installed
  fi
}

setup() {
  install_debian_packages
  install_python_packages
}

case "${1:-}" in
  setup) setup ;;
  test) setup; shift; exec .venv/bin/pytest "$@" ;;
  demo) setup; shift; exec .venv/bin/kiosk demo "$@" ;;
  *) echo "usage: bash dev.sh demo|test|setup" >&2; exit 2 ;;
esac
