#!/usr/bin/env bash
# Prepares the side-by-side runs (tests/compat) on the host, before the IPVS VM starts (the
# VM has no network): fetches Debian's ldirectord package with `apt-get download` and
# unpacks it with `dpkg -x` into tests/.work/perl-ldirectord (never installed, so no
# service can start), and installs the Perl modules it needs by package name
# (tests/deps/apt-compat.txt) under a policy-rc.d that refuses every service start.
# Idempotent: a second run with everything in place does nothing and takes milliseconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=tests/.work/perl-ldirectord
script=$dest/root/usr/sbin/ldirectord
export DEBIAN_FRONTEND=noninteractive

want=$(sed 's/#.*//' tests/deps/apt-compat.txt | tr -s ' \t' '\n' | grep -v '^$')
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $want 2>/dev/null \
  | awk '$4 == "installed" {print $1}')
missing=()
for p in $want; do
  grep -qx "$p" <<<"$installed" || missing+=("$p")
done
updated=0
if [ ${#missing[@]} -gt 0 ]; then
  echo "compat setup: installing ${missing[*]}"
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  apt-get update -qq && updated=1
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

if [ ! -x "$script" ]; then
  echo "compat setup: fetching and unpacking Debian's ldirectord into $dest"
  rm -rf "$dest" && mkdir -p "$dest"
  [ $updated = 1 ] || apt-get update -qq
  # apt's download user must be able to write the folder
  chmod 777 "$dest"
  (cd "$dest" && apt-get download -qq ldirectord)
  chmod 755 "$dest"
  dpkg -x "$dest"/ldirectord_*.deb "$dest/root"
  test -x "$script"
fi
