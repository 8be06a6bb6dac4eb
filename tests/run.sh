#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine (run as root), then runs
# it: static checks, the host tests (unit, protocol checkers against real servers), and the
# tests that need a real kernel IPVS table inside a throwaway VM (tests/vm/ipvs-vm).
#
# Debian packages come from tests/deps/apt-*.txt, extra Python packages from
# tests/deps/pip-*.txt (one name per line, '#' comments). No package may start a service:
# a policy-rc.d refuses every start while they install; test fixtures start what they need.
#
# Arguments go to every pytest run. Environment: HOST_TESTS=0 skips the host tests;
# COMPAT=smoke runs a representative few side-by-side scenarios instead of all of them;
# COMPAT_SHARDS (default 2) is how many VMs share the side-by-side scenarios; IPVS_VM_*
# are the VM runner's settings (tests/vm/README.md).
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

# 4. Host tests: everything that needs no kernel IPVS (HOST_TESTS=0 skips them).
if [ "${HOST_TESTS:-1}" != 0 ]; then
  say "host tests"
  .venv/bin/python -m pytest -q -p no:cacheprovider -m 'not kernel and not e2e and not compat' "$@"
fi

# 5. Kernel tests: the same pytest, inside VMs whose kernel has IPVS.
if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED: the IPVS kernel tests need root (they boot a VM with tests/vm/ipvs-vm)"
  exit 0
fi
say "preparing the side-by-side runs with the Perl ldirectord"
bash tests/compat/setup.sh
bash tests/vm/ipvs-vm --setup
# Python is slow under emulation: compile every module once here, and let the guests keep
# what they compile, instead of recompiling at each of the many daemon starts.
unset PYTHONDONTWRITEBYTECODE
.venv/bin/python -m compileall -q -j 0 ldirectord checkers tests bench >/dev/null
export IPVS_VM_TIMEOUT=${IPVS_VM_TIMEOUT:-2400}
# The VM groups run at the same time, one guest each: the backend contract and end-to-end
# tests, and the side-by-side scenarios split into COMPAT_SHARDS slices (each slice in a
# fresh guest, so nothing is left from another lab). Every guest gets one virtual CPU:
# under software emulation a guest with two, sharing the host's cores with other guests,
# loses much of its time spinning on its own kernel's locks (measured on 2 cores: the
# side-by-side suite in two 2-CPU guests took 13.6 minutes, in two 1-CPU guests 9).
# COMPAT=smoke runs only a representative few scenarios.
export IPVS_VM_CPUS=${IPVS_VM_CPUS:-1}
shards=${COMPAT_SHARDS:-2}
compat_args=(-m compat tests/compat)
[ "${COMPAT:-all}" = smoke ] && compat_args+=(-k 'connect or fallback or reload-reals')
mkdir -p tests/.work
names=() pids=()
vm_group() {  # name, then the pytest arguments; output prefixed with the name, also kept in a log
  local name=$1; shift
  ( bash tests/vm/ipvs-vm -- "$top/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@" 2>&1 \
      | tee "tests/.work/vm-$name.log" | sed -u "s|^|[$name] |" ) &
  names+=("$name") pids+=($!)
}
say "kernel, end-to-end and side-by-side tests (in ${shards} + 1 IPVS VMs at once)"
vm_group kernel -m 'kernel or e2e' tests/kernel tests/e2e "$@"
for i in $(seq 1 "$shards"); do
  COMPAT_SHARD=$i/$shards vm_group "compat-$i-of-$shards" "${compat_args[@]}" "$@"
done
failed=()
for k in "${!pids[@]}"; do
  wait "${pids[$k]}" || failed+=("${names[$k]}")
done
for name in "${names[@]}"; do
  printf '%-18s %s\n' "[$name]" "$(grep -E '(passed|failed|error|no tests ran)' \
      "tests/.work/vm-$name.log" | tail -n 1)"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED in the VM: ${failed[*]} (logs: tests/.work/vm-*.log, tests/.work/compat-report/)"
  exit 1
fi
