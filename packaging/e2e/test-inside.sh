#!/bin/bash
# Runs inside the systemd container: installs the package and drives it as an operator would,
# checking each step with systemctl. Ends with "e2e: N passed, N failed".
set -u
passed=0
failed=0
config=/etc/corral/corral.yaml

check() {
    local name=$1
    shift
    if "$@"; then
        echo "ok: $name"
        passed=$((passed + 1))
    else
        echo "FAIL: $name"
        failed=$((failed + 1))
    fi
}

# wait_until SECONDS COMMAND...: polls for a condition instead of sleeping a fixed time.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.1
    done
}

property() { systemctl show corral -p "$1" --value; }
is_running() { [[ $(property ActiveState) == active && $(property SubState) == running ]]; }
worker_count() { pgrep -c -x corral-worker; }
workers_are() { [[ $(worker_count) == "$1" ]]; }
echoes() {
    local reply
    exec 3<>/dev/tcp/127.0.0.1/7000 || return 1
    printf 'hello corral' >&3
    read -r -t 5 -N 12 reply <&3
    exec 3<&-
    [[ $reply == "hello corral" ]]
}

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
check "apt-get install the package" apt-get install -y -qq /e2e/corral.deb
# Minbase has no man-db, so verify cannot run man(1) for Documentation=; the pages are checked
# to exist instead.
verify_output=$(systemd-analyze verify --man=no corral.service corral.socket 2>&1)
[[ -n $verify_output ]] && echo "$verify_output"
check "systemd-analyze verify prints nothing" test -z "$verify_output"
check "the man pages are installed" test -s /usr/share/man/man8/corral.8.gz -a -s /usr/share/man/man5/corral.yaml.5.gz
exposure=$(systemd-analyze security --offline=yes corral.service 2>&1 | grep -o 'Overall exposure level for corral.service: [0-9.]*' | awk '{print $NF}')
echo "exposure: $exposure"
check "exposure 2.0 or lower" systemd-analyze security --offline=yes --threshold=20 corral.service
check "active/running" wait_until 20 is_running
check "StatusText names the workers" wait_until 5 bash -c '[[ $(systemctl show corral -p StatusText --value) == *workers* ]]'
echo "StatusText: $(property StatusText)"
check "runs as the corral user" bash -c '[[ $(ps -o user= -p "$(systemctl show corral -p MainPID --value)") == corral ]]'
check "echo on the default port" echoes
check "workers hold no capabilities and have no_new_privs" bash -c '
    for worker in $(pgrep -x corral-worker); do
        grep -Eq "^CapEff:\s+0+$" /proc/$worker/status && grep -Eq "^CapPrm:\s+0+$" /proc/$worker/status &&
            grep -Eq "^CapAmb:\s+0+$" /proc/$worker/status && grep -Eq "^NoNewPrivs:\s+1$" /proc/$worker/status || exit 1
    done'

sed -i 's/^workers: .*/workers: 3/' "$config"
check "systemctl reload after changing workers" systemctl reload corral
check "the worker count follows" wait_until 20 workers_are 3
check "still active/running after the reload" is_running
check "echo after the reload" echoes
echo "--- systemctl status after the reload"
systemctl status corral --no-pager -l | sed 's/^/    /'
echo "---"

workers_before=$(pgrep -x corral-worker | sort | tr '\n' ' ')
cp "$config" /tmp/corral.yaml.good
echo "limits: {read_buffer: 16KB}" >>"$config"
check "systemctl reload with a broken config fails" bash -c '! systemctl reload corral'
check "still running after the rejected reload" is_running
check "same workers after the rejected reload" bash -c '[[ $(pgrep -x corral-worker | sort | tr "\n" " ") == "'"$workers_before"'" ]]'
check "echo after the rejected reload" echoes
cp /tmp/corral.yaml.good "$config"

main_pid=$(property MainPID)
stopped=$(pgrep -o -x corral-worker)
kill -STOP "$stopped"
check "a stopped worker is killed (heartbeat)" wait_until 20 bash -c "! kill -0 $stopped 2>/dev/null || [[ \$(ps -o stat= -p $stopped) == Z* ]]"
check "and replaced" wait_until 20 workers_are 3
check "the watchdog never fired" bash -c '! journalctl -u corral --no-pager | grep -qi watchdog'
check "no restart: same main pid" bash -c "[[ \$(systemctl show corral -p MainPID --value) == $main_pid && \$(systemctl show corral -p NRestarts --value) == 0 ]]"

# Binary upgrade: the new master becomes the unit's main pid and feeds the watchdog from then on.
kill -USR2 "$main_pid"
check "USR2: MainPID becomes the new master" wait_until 30 bash -c "[[ \$(systemctl show corral -p MainPID --value) != $main_pid ]]"
new_main_pid=$(property MainPID)
check "the old master leaves" wait_until 30 bash -c "! kill -0 $main_pid 2>/dev/null"
check "the new main pid is a corral master" bash -c "[[ \$(cat /proc/$new_main_pid/comm) == corral-master ]]"
check "echo after the upgrade" echoes
watchdog_sec=$(($(property WatchdogUSec | sed 's/s$//')))
echo "waiting past WatchdogSec (${watchdog_sec}s) after the upgrade"
sleep $((watchdog_sec + 5))
check "after WatchdogSec: active/running, same main pid, NRestarts=0" bash -c "[[ \$(systemctl show corral -p ActiveState --value) == active && \$(systemctl show corral -p MainPID --value) == $new_main_pid && \$(systemctl show corral -p NRestarts --value) == 0 ]]"
check "the watchdog still never fired" bash -c '! journalctl -u corral --no-pager | grep -qi watchdog'
check "echo after WatchdogSec" echoes

check "systemctl stop" systemctl stop corral
check "inactive after stop" bash -c '[[ $(systemctl show corral -p ActiveState --value) == inactive ]]'
check "Result=success" bash -c '[[ $(systemctl show corral -p Result --value) == success ]]'
echo "after stop: $(systemctl show corral -p ActiveState -p Result -p ExecMainCode -p ExecMainStatus | tr '\n' ' ')"
if [[ $(property Result) != success ]]; then
    journalctl -u corral --no-pager -n 25 | sed 's/^/    /'
fi
check "no corral process left" bash -c '! pgrep -x corral-master >/dev/null && ! pgrep -x corral-worker >/dev/null'

check "corral.socket starts" systemctl start corral.socket
check "a connection to the socket starts the service and is echoed" echoes
check "the service runs on the inherited sockets" bash -c 'journalctl -u corral --no-pager | grep -q "inherited"'
check "stop the socket-activated service" systemctl stop corral.service corral.socket

check "apt-get purge" apt-get purge -y -qq corral
check "binary, unit and config are gone" bash -c '[[ ! -e /usr/sbin/corral && ! -e /lib/systemd/system/corral.service && ! -e /etc/corral ]]'
check "systemd no longer knows the unit" bash -c '[[ $(systemctl show corral -p LoadState --value) == not-found ]]'

echo "e2e: $passed passed, $failed failed"
