#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine (run as root), then runs
# it: static checks, the host tests (unit, protocol checkers against real servers), and the
# tests that need a real kernel IPVS table inside a throwaway VM (tests/vm/ipvs-vm).
#
# Debian packages come from tests/deps/apt-*.txt, extra Python packages from
# tests/deps/pip-*.txt (one name per line, '#' comments). No package may start a service:
# a policy-rc.d refuses every start while they install; test fixtures start what they need.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
export DEBIAN_FRONTEND=noninteractive

say() { printf '==> %s\n' "$*"; }

want_apt() { cat tests/deps/apt-*.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u; }
want_pip() { cat tests/deps/pip-*.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u; }

# 1. Debian packages (only what is missing; apt-get update once, only if needed).
missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv python3-dev)
for p in $(want_apt); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# 2. The project in a virtual environment, with its test extras.
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
say "installing the project and its test dependencies"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,mysql,pgsql]' $(want_pip)

# 3. Static checks.
say "ruff"
.venv/bin/ruff check ldirectord checkers
say "mypy --strict"
.venv/bin/mypy --strict ldirectord checkers

# 4. Host tests: everything that needs no kernel IPVS.
say "host tests"
.venv/bin/python -m pytest -q -p no:cacheprovider -m 'not kernel and not e2e and not compat' "$@"

# 5. Kernel tests: the same pytest, inside a VM whose kernel has IPVS.
if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED: the IPVS kernel tests need root (they boot a VM with tests/vm/ipvs-vm)"
  exit 0
fi
say "preparing the side-by-side runs with the Perl ldirectord"
bash tests/compat/setup.sh
say "kernel tests (in the IPVS VM)"
# Python is slow under emulation: compile every module once here, and let the guest keep
# what it compiles, instead of recompiling at each of the many daemon starts.
unset PYTHONDONTWRITEBYTECODE
.venv/bin/python -m compileall -q -j 0 ldirectord checkers tests bench >/dev/null
export IPVS_VM_TIMEOUT=${IPVS_VM_TIMEOUT:-2400}
vm_pytest() { bash tests/vm/ipvs-vm --setup -- "$top/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@"; }
vm_pytest -m 'kernel or e2e' tests/kernel tests/e2e "$@"

# The side-by-side runs get a VM of their own (a fresh guest: nothing left from the e2e
# lab). A scenario takes 1-2.5 minutes under the VM's software emulation (both daemons
# start, settle and stop), about 45 minutes for all of them, so by default a
# representative few run; COMPAT=all runs every scenario.
say "side-by-side runs with the Perl ldirectord (in the IPVS VM)"
if [ "${COMPAT:-smoke}" = all ]; then
  vm_pytest -m compat tests/compat "$@"
else
  vm_pytest -m compat -k 'connect or fallback or reload-reals' tests/compat "$@"
fi
