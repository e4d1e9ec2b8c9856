// Three corral hosts (127.0.0.2, .3 and .4) behind a real HAProxy in TCP mode that checks each
// host's /healthz, under continuous load through it: sessions of ping-pong and connect-echo-close
// churn, every byte verified. A rolling reload, a rolling binary upgrade and a rolling stop and
// start must cost no connection, no HAProxy retry or redispatch, and (for the first two) no host
// marked down; a host killed with SIGKILL costs only its own open connections, and only until
// HAProxy's checks take it out.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin.hpp"
#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/files.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// HAProxy's health checks: every 500 ms, a host is down after 2 failures and up after 2 passes.
// The drain period must outlast the checks that mark it down: inter x (fall + 1) = 1.5 s.
constexpr const char* kCheck = "inter 500ms fall 2 rise 2";
constexpr const char* kDrain = "3s";

// One corral host on its own loopback address, its ports reserved so that it comes back on them.
struct Host {
    explicit Host(std::string host_ip) : ip(std::move(host_ip)), port(ip), admin_port(ip) {}

    std::string config(int workers) const {
        return "workers: " + std::to_string(workers) + "\nlisten:\n  - address: " + ip + ":" +
               std::to_string(port.port()) + "\nadmin:\n  listen: " + ip + ":" + std::to_string(admin_port.port()) +
               "\ntimeouts:\n  drain: " + kDrain + "\n  shutdown: 30s\npid_file: " + dir.path() +
               "/corral.pid\nlog:\n  level: info\n";
    }
    Address admin() const {
        Address address;
        address.family = AddressFamily::ipv4;
        address.host = ip;
        address.port = admin_port.port();
        return address;
    }
    void start(int workers) {
        corral = std::make_unique<CorralProcess>(config(workers));
        REQUIRE(corral->wait_ready().size() == 1);
    }

    std::string ip;
    ReservedPort port;
    ReservedPort admin_port;
    TempDir dir;
    std::unique_ptr<CorralProcess> corral;
};

// HAProxy, started in the foreground and stopped by pid; clients reach it on a unix socket.
class Balancer {
public:
    explicit Balancer(const std::vector<std::unique_ptr<Host>>& hosts) {
        front_ = dir_.path() + "/front.sock";
        stats_ = dir_.path() + "/stats.sock";
        std::string servers;
        for (const auto& host : hosts) {
            servers += "    server " + host->ip + " " + host->ip + ":" + std::to_string(host->port.port()) +
                       " check port " + std::to_string(host->admin_port.port()) + " " + kCheck + "\n";
        }
        const std::string config = dir_.write("haproxy.cfg",
            "global\n    stats socket " + stats_ + " level admin\n    maxconn 2000\n"
            "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n"
            "    retries 3\n"
            "frontend corral\n    bind unix@" + front_ + "\n    default_backend hosts\n"
            "backend hosts\n    balance roundrobin\n    option redispatch\n    option httpchk GET /healthz\n"
            "    http-check expect status 200\n" + servers);
        const std::string log = dir_.path() + "/haproxy.log";
        pid_ = ::fork();
        if (pid_ == 0) {
            // Should the test process die without stopping it, haproxy goes with it.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            const int output = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            ::dup2(output, STDOUT_FILENO);
            ::dup2(output, STDERR_FILENO);
            ::execlp("haproxy", "haproxy", "-db", "-f", config.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        REQUIRE(pid_ > 0);
    }
    ~Balancer() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    Balancer(const Balancer&) = delete;
    Balancer& operator=(const Balancer&) = delete;

    const std::string& front() const { return front_; }

    // One row of `show stat` per server and one for the backend, by column name.
    using Stats = std::map<std::string, std::map<std::string, std::string>>;
    Stats stats() const {
        Stats rows;
        const Fd socket = connect_to(stats_, 0);
        if (!socket || !send_all(socket.get(), "show stat\n")) return rows;
        std::string text;
        char buffer[4096];
        for (ssize_t got; (got = ::read(socket.get(), buffer, sizeof buffer)) > 0;) text.append(buffer, got);
        std::istringstream lines(text);
        std::vector<std::string> names;
        for (std::string line; std::getline(lines, line);) {
            std::vector<std::string> fields;
            std::istringstream cells(line.starts_with("# ") ? line.substr(2) : line);
            for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
            if (line.starts_with("# ")) {
                names = fields;
                continue;
            }
            if (fields.size() < 2 || fields[0] != "hosts") continue;
            for (std::size_t i = 0; i < fields.size() && i < names.size(); ++i) rows[fields[1]][names[i]] = fields[i];
        }
        return rows;
    }
    // A number from one `show stat` snapshot; -1 when the row or column is missing.
    static long counter(const Stats& all, const std::string& row, const std::string& column) {
        const auto found = all.find(row);
        if (found == all.end() || !found->second.contains(column)) return -1;
        return std::atol(found->second.at(column).c_str());
    }
    std::string status(const std::string& server) const {
        const auto all = stats();
        const auto found = all.find(server);
        return found == all.end() ? "" : found->second.at("status");
    }
    bool wait_status(const std::string& server, const std::string& wanted) const {
        return poll_until(kPatience, [&] { return status(server) == wanted; }, 50ms);
    }

private:
    TempDir dir_;
    std::string front_;
    std::string stats_;
    pid_t pid_ = -1;
};

// What the clients saw, counted for each phase.
struct Tally {
    std::atomic<long> connections{0};  // new connections made (churn and sessions)
    std::atomic<long> failed_new{0};    // refused, reset or wrong before their first echo
    std::atomic<long> sessions{0};      // ping-pong sessions completed
    std::atomic<long> broken{0};        // sessions cut or answered wrongly after their first echo
    std::mutex mutex;
    std::vector<std::string> reasons;
    Clock::time_point last_failure{};

    void fail(std::atomic<long>& counter, const std::string& why) {
        ++counter;
        std::lock_guard lock(mutex);
        last_failure = Clock::now();
        if (reasons.size() < 10) reasons.push_back(why);
    }
};

// Load through the balancer until stopped: two churning clients and four clients holding
// sessions of 20 round trips, 50 ms apart.
class Load {
public:
    Load(const std::string& front, std::atomic<Tally*>& tally) : front_(front), tally_(tally) {
        for (std::uint32_t seed = 0; seed < 2; ++seed) threads_.emplace_back([this, seed] { churn(seed); });
        for (std::uint32_t seed = 0; seed < 4; ++seed) threads_.emplace_back([this, seed] { sessions(seed); });
    }
    ~Load() {
        running_ = false;
        for (auto& thread : threads_) thread.join();
    }
    Load(const Load&) = delete;
    Load& operator=(const Load&) = delete;

private:
    void churn(std::uint32_t seed) {
        for (std::uint32_t round = 0; running_; ++round) {
            Tally& tally = *tally_;
            const Fd client = connect_to(front_, 0);
            ++tally.connections;
            if (!client) tally.fail(tally.failed_new, "churn: connect refused");
            else if (!echoes(client.get(), pattern_bytes(64, seed * 1'000'000 + round)))
                tally.fail(tally.failed_new, "churn: no echo");
        }
    }
    void sessions(std::uint32_t seed) {
        for (std::uint32_t round = 0; running_; ++round) {
            Tally& tally = *tally_;
            const Fd client = connect_to(front_, 0);
            ++tally.connections;
            if (!client || !echoes(client.get(), pattern_bytes(64, seed * 1'000'000 + round))) {
                tally.fail(tally.failed_new, "session: no first echo");
                continue;
            }
            bool whole = true;
            for (int exchange = 1; exchange < 20 && whole; ++exchange) {
                std::this_thread::sleep_for(50ms);  // paces the session; not a wait for anything
                whole = echoes(client.get(), pattern_bytes(64, seed * 1'000'000 + round * 100 + exchange));
            }
            if (whole) ++tally.sessions;
            else tally.fail(tally.broken, "session: cut or wrong after its first echo");
        }
    }

    std::string front_;
    std::atomic<Tally*>& tally_;
    std::atomic<bool> running_{true};
    std::vector<std::thread> threads_;
};

std::string reasons(Tally& tally) {
    std::lock_guard lock(tally.mutex);
    std::string text;
    for (const std::string& reason : tally.reasons) text += (text.empty() ? "" : "; ") + reason;
    return text;
}

// The balancer's counters a phase must leave alone.
struct BalancerCounters {
    long retries = 0;
    long redispatches = 0;
    std::map<std::string, long> downs;  // UP to DOWN transitions per server
};

BalancerCounters balancer_counters(const Balancer& balancer, const std::vector<std::unique_ptr<Host>>& hosts) {
    const Balancer::Stats stats = balancer.stats();
    BalancerCounters counters{.retries = Balancer::counter(stats, "BACKEND", "wretr"),
                              .redispatches = Balancer::counter(stats, "BACKEND", "wredis"),
                              .downs = {}};
    for (const auto& host : hosts) counters.downs[host->ip] = Balancer::counter(stats, host->ip, "chkdown");
    return counters;
}

}  // namespace

TEST_CASE("behind HAProxy: rolling reload, binary upgrade and restart lose no connection; SIGKILL only its own") {
    REQUIRE_MESSAGE(shell_output("command -v haproxy").find("haproxy") != std::string::npos,
                    "haproxy is not installed (./dev.sh test installs it)");
    std::vector<std::unique_ptr<Host>> hosts;
    for (const char* ip : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
        hosts.push_back(std::make_unique<Host>(ip));
        hosts.back()->start(2);
    }
    const Balancer balancer(hosts);
    for (const auto& host : hosts) REQUIRE(balancer.wait_status(host->ip, "UP"));

    // Each phase's clients count into its own tally. A client counts a session where it began, so
    // every tally outlives the load.
    Tally warm_up, reloading, upgrading, restarting, killed;
    std::atomic<Tally*> tally{&warm_up};
    const Load load(balancer.front(), tally);
    REQUIRE(poll_until(kPatience, [&] { return warm_up.sessions >= 4; }));

    // Runs one rolling operation under the load and checks what it may cost.
    const auto phase = [&](const std::string& name, Tally& counted, bool hosts_stay_up,
                           const std::function<void(Host&)>& step) {
        tally = &counted;
        const BalancerCounters before = balancer_counters(balancer, hosts);
        for (const auto& host : hosts) {
            step(*host);
            REQUIRE(balancer.wait_status(host->ip, "UP"));
        }
        std::this_thread::sleep_for(1s);  // keeps the load on after the last host, a measurement window
        const BalancerCounters after = balancer_counters(balancer, hosts);
        tally = &warm_up;
        long downs = 0;
        for (const auto& host : hosts) downs += after.downs.at(host->ip) - before.downs.at(host->ip);
        MESSAGE(name, ": ", counted.connections.load(), " connections, ", counted.failed_new.load(),
                " failed new, ", counted.sessions.load(), " sessions completed, ", counted.broken.load(), " broken; "
                "HAProxy ", after.retries - before.retries, " retries, ", after.redispatches - before.redispatches,
                " redispatches, ", downs, " hosts marked down", counted.reasons.empty() ? "" : "; " + reasons(counted));
        CHECK(counted.connections > 0);
        CHECK(counted.sessions > 0);
        CHECK(counted.failed_new == 0);
        CHECK(counted.broken == 0);
        CHECK(after.retries - before.retries == 0);
        CHECK(after.redispatches - before.redispatches == 0);
        if (hosts_stay_up) CHECK(downs == 0);
    };

    phase("rolling reload, workers 2 to 3", reloading, true, [&](Host& host) {
        host.corral->write_config(host.config(3));
        const CommandResult reloaded = run_corral({"reload", "-c", host.corral->config_path()});
        REQUIRE_MESSAGE(reloaded.exit_code == 0, reloaded.err);
        REQUIRE(wait_ready_workers(host.admin(), 3));
    });

    phase("rolling binary upgrade (SIGUSR2)", upgrading, true, [&](Host& host) {
        const pid_t old_master = host.corral->pid();
        host.corral->signal(SIGUSR2);
        const pid_t new_master = wait_for_new_master(host.dir, old_master);
        REQUIRE(host.corral->wait_exit() == 0);
        host.corral->adopt(new_master);
        REQUIRE(wait_ready_workers(host.admin(), 3));
    });

    phase("rolling stop (SIGTERM, drain " + std::string(kDrain) + ") and start", restarting, false, [&](Host& host) {
        host.corral->signal(SIGTERM);
        REQUIRE(host.corral->wait_exit() == 0);
        host.start(3);
    });

    // SIGKILL of one host, master and workers: its open sessions break, and new connections fail
    // only until HAProxy's checks have taken it out (or retries hide even that).
    tally = &killed;
    Host& victim = *hosts[1];
    const auto kill_time = Clock::now();
    for (pid_t worker : victim.corral->workers()) ::kill(worker, SIGKILL);
    victim.corral->signal(SIGKILL);
    victim.corral->wait_exit();
    REQUIRE(balancer.wait_status(victim.ip, "DOWN"));
    const double down_after = std::chrono::duration<double>(Clock::now() - kill_time).count();
    std::this_thread::sleep_for(2s);  // the load goes on without the host, a measurement window
    victim.start(3);
    REQUIRE(balancer.wait_status(victim.ip, "UP"));
    tally = &warm_up;
    double failing_for = 0;
    {
        std::lock_guard lock(killed.mutex);
        if (killed.last_failure != Clock::time_point{})
            failing_for = std::chrono::duration<double>(killed.last_failure - kill_time).count();
    }
    MESSAGE("SIGKILL of one host: ", killed.connections.load(), " connections, ", killed.failed_new.load(),
            " failed new, ", killed.broken.load(), " sessions broken (4 clients hold at most 4), HAProxy marked it down after ",
            down_after, " s; the last failure came ", failing_for, " s after the kill",
            killed.reasons.empty() ? "" : "; " + reasons(killed));
    CHECK(killed.broken <= 4);
    // New connections stop failing once the host is down: fall x inter after the kill, with room
    // for a loaded machine.
    CHECK(failing_for <= down_after + 1.0);
    for (const auto& host : hosts) host->corral->signal(SIGTERM);
    for (const auto& host : hosts) CHECK(host->corral->wait_exit() == 0);
}
