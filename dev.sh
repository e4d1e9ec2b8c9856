#!/usr/bin/env bash
# The two quick-start commands. On a fresh Debian 12 machine, as root:
#   ./dev.sh run    build corral and run it in the foreground with etc/corral.yaml
#   ./dev.sh test   build and run every test, plainly and under ASan+UBSan, then the Debian package
#                   under a real systemd, then every fuzzer for 30 s; ends "N passed, N failed"
set -euo pipefail
cd "$(dirname "$0")"

# curl and netcat-openbsd are for the README's examples against a running corral; the tests drive
# the resp example module with redis-tools' redis-cli and redis-benchmark, and put three corral
# hosts behind a haproxy of their own.
packages=(g++ meson ninja-build pkg-config python3 libsystemd-dev libyaml-cpp-dev nlohmann-json3-dev doctest-dev
          curl netcat-openbsd redis-tools haproxy)

install_missing_packages() {
    local missing=() package
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    ((${#missing[@]} == 0)) && return
    echo "installing: ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    # A policy-rc.d that exits 101 keeps haproxy's system service from starting: the tests run
    # only a haproxy of their own. One already there stays as it is.
    local policy_written=false
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# dev.sh: no service starts while it installs packages\nexit 101\n' |
            "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
        policy_written=true
    fi
    local status=0
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" || status=$?
    if $policy_written; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
    return $status
}

# configure_build DIR [meson options...]: sets DIR up, or brings its options up to date.
configure_build() {
    local dir=$1
    shift
    local reconfigure=()
    [[ -f $dir/build.ninja ]] && reconfigure=(--reconfigure)
    meson setup "${reconfigure[@]}" "$dir" --werror "$@"
    meson compile -C "$dir"
}

case "${1:-}" in
    run)
        install_missing_packages
        configure_build build
        exec build/corral run -c etc/corral.yaml
        ;;
    test)
        install_missing_packages
        # Test builds carry the fault-injection hooks the integration tests use; packages never
        # do. The hooks act only when a test sets their environment variable.
        configure_build build -Dfault_injection=true
        # No vptr check: it validates memory through a pipe, so in a process that has run out
        # of descriptors (which a test does on purpose) every virtual call looks invalid.
        configure_build build-sanitize -Dfault_injection=true -Db_sanitize=address,undefined -Db_lundef=false \
            "-Dcpp_args=['-fno-sanitize-recover=all','-fno-sanitize=vptr']"
        status=0
        meson test -C build --print-errorlogs || status=1
        meson test -C build-sanitize --print-errorlogs || status=1
        # The package under a real systemd: build, install, reload, watchdog, stop, purge.
        rm -f build-deb/e2e-results.txt
        packaging/e2e/run build-deb/e2e-results.txt || status=1
        # Every parser under libFuzzer (built with clang, which fuzz/run installs if need be).
        rm -f build-fuzz/fuzz-results.txt
        fuzz/run 30 || status=1
        python3 tests/support/count_results.py build/meson-logs/testlog.json \
            build-sanitize/meson-logs/testlog.json build-deb/e2e-results.txt build-fuzz/fuzz-results.txt || status=1
        exit $status
        ;;
    *)
        echo "usage: $0 run|test" >&2
        exit 2
        ;;
esac
