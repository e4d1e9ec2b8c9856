// loadgen: a closed-loop ping-pong load generator for echo servers, loopback only.
// Every connection keeps exactly one message in flight and checks every byte that comes back.
//
// Standalone on purpose (standard library and Linux headers only): the benchmark must not share
// code, and so bugs, with the server it measures.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/fd.hpp"

using corral::Fd;

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // a wrong byte or a failed connection: the server is not right
constexpr int kExitUsage = 2;

// Connects in flight at once: a burst of thousands of SYNs would overflow a modest backlog and
// turn into one-second SYN retries that look like server latency.
constexpr std::size_t kMaxConnectsInFlight = 128;
constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kSweepInterval = std::chrono::milliseconds(100);  // for connects past their timeout
// However slowly the server accepts, the run must end by itself.
constexpr auto kConnectPhaseLimit = std::chrono::seconds(20);
// A message still unanswered this long after the run ends counts as lost, not as slow. Generous:
// Python's thread-per-connection baseline, 1000 threads on 2 busy CPUs, has taken 6 s to answer.
constexpr auto kStallLimit = std::chrono::seconds(10);
// Descriptors kept free for stdio, epoll and whatever the C library opens.
constexpr std::size_t kReservedFds = 16;
constexpr std::size_t kMaxMessageSize = 16u << 20;
constexpr std::size_t kMaxBufferedBytes = 1u << 30;  // one outstanding message per connection
constexpr double kMaxSeconds = 3600;
constexpr std::size_t kMaxReportedMismatches = 5;
// However long nobody sends the start signal, a held loadgen must end by itself.
constexpr auto kHoldLimit = std::chrono::seconds(120);
constexpr int kStartSignal = SIGUSR1;

const char* const kUsage =
    "usage: loadgen --target HOST:PORT [--connections N] [--duration SECONDS]\n"
    "               [--size BYTES] [--warmup SECONDS]\n"
    "               [--connect-burst N | --connect-slowly | --churn]\n"
    "               [--hold] [--server-pids PID,PID...]\n"
    "  HOST must be loopback: 127.0.0.0/8, [::1] or localhost.\n"
    "  --connect-burst N  open N connections at once, and the next N only once every one of\n"
    "                     them is established (default: up to 128 connects in flight, each\n"
    "                     replaced as it completes)\n"
    "  --connect-slowly   open one connection at a time: --connect-burst 1\n"
    "  --churn            instead of ping-pong on open connections, --connections loops of\n"
    "                     connect, send one message, read its echo, close; messages= and\n"
    "                     msgs_per_sec= then count these connections, as does conns_per_sec=\n"
    "  --hold             once the connections are open (with --churn: at once), print\n"
    "                     \"loadgen: holding connected=N until SIGUSR1\" on stderr and start the\n"
    "                     load only on SIGUSR1 (gives up after 120 s)\n"
    "  --server-pids L    add server_cpu_s=: the user plus system CPU seconds the processes in\n"
    "                     the comma-separated list L used during the measured seconds\n"
    "  Prints one line of key=value pairs; exits 1 if any byte came back wrong or any\n"
    "  connection failed, 2 on a usage error. connected= counts the connections established\n"
    "  (with --churn: over the whole run) and connect_s= the seconds it took to open them.\n";

struct Options {
    sockaddr_storage target{};
    socklen_t target_length = 0;
    std::size_t connections = 50;
    double duration_seconds = 5;
    std::size_t message_size = 64;
    double warmup_seconds = 1;
    std::size_t connect_burst = 0;  // 0: a sliding window of kMaxConnectsInFlight
    bool churn = false;
    bool hold = false;
    std::vector<pid_t> server_pids;
};

// Log-linear histogram of nanoseconds: 64 sub-buckets per power of two keep every value within
// 1.6% of the truth, in a fixed 20 KiB however long the run. Values below 64 ns are exact.
class LatencyHistogram {
public:
    void record(std::uint64_t nanoseconds) {
        ++counts_[bucket_of(nanoseconds)];
        ++total_;
        max_ = std::max(max_, nanoseconds);
    }

    std::uint64_t total() const { return total_; }
    std::uint64_t max() const { return max_; }

    // The middle of the bucket holding the q-quantile (0 < q <= 1), never above the true maximum.
    std::uint64_t quantile(double q) const {
        if (total_ == 0) return 0;
        auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
        rank = std::clamp<std::uint64_t>(rank, 1, total_);
        std::uint64_t seen = 0;
        for (std::size_t bucket = 0; bucket < counts_.size(); ++bucket) {
            seen += counts_[bucket];
            if (seen >= rank) return std::min(middle_of(bucket), max_);
        }
        return max_;
    }

private:
    static constexpr int kSubBucketBits = 6;
    static constexpr std::uint64_t kSubBuckets = 1u << kSubBucketBits;
    static constexpr int kLimitBits = 44;  // 2^44 ns is almost five hours; longer is clamped
    static constexpr std::size_t kBuckets = (kLimitBits - kSubBucketBits + 1) * kSubBuckets;

    static std::size_t bucket_of(std::uint64_t nanoseconds) {
        nanoseconds = std::min(nanoseconds, (std::uint64_t{1} << kLimitBits) - 1);
        if (nanoseconds < kSubBuckets) return nanoseconds;
        const int shift = std::bit_width(nanoseconds) - 1 - kSubBucketBits;
        const std::uint64_t sub_bucket = (nanoseconds >> shift) - kSubBuckets;
        return static_cast<std::size_t>(shift + 1) * kSubBuckets + sub_bucket;
    }

    static std::uint64_t middle_of(std::size_t bucket) {
        if (bucket < kSubBuckets) return bucket;
        const std::size_t shift = bucket / kSubBuckets - 1;
        const std::uint64_t lowest = (kSubBuckets + bucket % kSubBuckets) << shift;
        return lowest + ((std::uint64_t{1} << shift) >> 1);
    }

    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
};

struct Counters {
    std::uint64_t connect_errors = 0;
    std::uint64_t resets = 0;  // ECONNRESET, EPIPE or another error on an established connection
    std::uint64_t closed = 0;  // the server closed a connection the benchmark still used
    std::uint64_t stalled = 0;
    std::uint64_t wrong_bytes = 0;
    std::uint64_t measured_messages = 0;

    std::uint64_t errors() const { return connect_errors + resets + closed + stalled; }
};

enum class ConnectionState { Unused, Connecting, Established, Closed };

struct Connection {
    Fd socket;
    ConnectionState state = ConnectionState::Unused;
    std::uint32_t id = 0;
    std::uint64_t sequence = 0;  // which message this is; with id it seeds the content
    std::vector<std::uint8_t> message;
    std::size_t sent = 0;
    std::size_t received = 0;
    bool waiting_to_write = false;  // EPOLLOUT is registered
    Clock::time_point connect_started;
    Clock::time_point sent_at;
};

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Pseudo-random bytes unique to (connection, message), so that bytes echoed on the wrong
// connection, or a stale message echoed twice, do not match what is expected.
void fill_message(Connection& connection) {
    std::uint64_t state = (std::uint64_t{connection.id} << 40) ^ connection.sequence;
    state = splitmix64(state);
    auto& message = connection.message;
    for (std::size_t offset = 0; offset < message.size(); offset += sizeof(std::uint64_t)) {
        const std::uint64_t word = splitmix64(state);
        std::memcpy(message.data() + offset, &word,
                    std::min(sizeof word, message.size() - offset));
    }
}

std::optional<double> parse_seconds(std::string_view text) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    if (!(value >= 0 && value <= kMaxSeconds)) return std::nullopt;
    return value;
}

std::optional<std::size_t> parse_count(std::string_view text) {
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// A count above zero into `out`; false (out untouched) for anything else.
bool parse_positive_count(std::string_view text, std::size_t& out) {
    const auto count = parse_count(text);
    if (!count || *count == 0) return false;
    out = *count;
    return true;
}

// A comma-separated list of process ids.
bool parse_pids(std::string_view text, std::vector<pid_t>& pids) {
    pids.clear();
    while (true) {
        const auto comma = text.find(',');
        const auto pid = parse_count(text.substr(0, comma));
        if (!pid || *pid == 0 || *pid > static_cast<std::size_t>(std::numeric_limits<pid_t>::max())) {
            return false;
        }
        pids.push_back(static_cast<pid_t>(*pid));
        if (comma == std::string_view::npos) return true;
        text.remove_prefix(comma + 1);
    }
}

// User plus system CPU seconds the processes have used so far, from /proc/PID/stat; nullopt
// (after saying why) when one of them cannot be read.
std::optional<double> cpu_seconds_of(const std::vector<pid_t>& pids) {
    static const long ticks_per_second = sysconf(_SC_CLK_TCK);
    std::uint64_t ticks = 0;
    for (const pid_t pid : pids) {
        const std::string path = "/proc/" + std::to_string(pid) + "/stat";
        std::ifstream file(path);
        std::string stat;
        std::getline(file, stat);
        // The command name, field 2, is in parentheses and may hold spaces: count from its end.
        const auto name_end = stat.rfind(')');
        if (!file || name_end == std::string::npos) {
            std::fprintf(stderr, "loadgen: cannot read %s\n", path.c_str());
            return std::nullopt;
        }
        std::istringstream fields(stat.substr(name_end + 1));
        std::string skipped;
        for (int field = 3; field < 14; ++field) fields >> skipped;
        std::uint64_t user = 0;
        std::uint64_t system = 0;
        if (!(fields >> user >> system)) {
            std::fprintf(stderr, "loadgen: no utime and stime in %s\n", path.c_str());
            return std::nullopt;
        }
        ticks += user + system;
    }
    return static_cast<double>(ticks) / static_cast<double>(ticks_per_second);
}

// Accepts "127.x.y.z:PORT", "localhost:PORT" and "[::1]:PORT"; anything else is refused, because
// this tool must never send load beyond the machine it runs on.
bool parse_target(std::string_view text, Options& options) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    std::string host(text.substr(0, colon));
    const auto port = parse_count(text.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535) return false;

    if (host == "localhost") host = "127.0.0.1";
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
        sockaddr_in6 address{};
        address.sin6_family = AF_INET6;
        address.sin6_port = htons(static_cast<std::uint16_t>(*port));
        if (inet_pton(AF_INET6, host.c_str(), &address.sin6_addr) != 1) return false;
        if (!IN6_IS_ADDR_LOOPBACK(&address.sin6_addr)) return false;
        std::memcpy(&options.target, &address, sizeof address);
        options.target_length = sizeof address;
        return true;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(*port));
    if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return false;
    if ((ntohl(address.sin_addr.s_addr) >> 24) != 127) return false;
    std::memcpy(&options.target, &address, sizeof address);
    options.target_length = sizeof address;
    return true;
}

// Returns the options, or nullopt after printing why they are unusable.
std::optional<Options> parse_options(int argc, char** argv) {
    Options options;
    bool have_target = false;
    for (int index = 1; index < argc; ++index) {
        std::string_view name = argv[index];
        std::string_view value;
        if (name == "-h" || name == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(kExitOk);
        }
        // Options without a value.
        if (name == "--connect-slowly") {
            options.connect_burst = 1;
            continue;
        }
        if (name == "--churn") {
            options.churn = true;
            continue;
        }
        if (name == "--hold") {
            options.hold = true;
            continue;
        }
        if (const auto equals = name.find('='); equals != std::string_view::npos) {
            value = name.substr(equals + 1);
            name = name.substr(0, equals);
        } else if (index + 1 < argc) {
            value = argv[++index];
        } else {
            std::fprintf(stderr, "loadgen: %s needs a value\n%s", argv[index], kUsage);
            return std::nullopt;
        }

        bool valid = true;
        if (name == "--target") {
            valid = parse_target(value, options);
            have_target = valid;
            if (!valid) {
                std::fprintf(stderr,
                             "loadgen: --target %.*s: want a loopback HOST:PORT "
                             "(127.0.0.0/8, [::1] or localhost)\n",
                             static_cast<int>(value.size()), value.data());
                return std::nullopt;
            }
        } else if (name == "--connections") {
            valid = parse_positive_count(value, options.connections);
        } else if (name == "--duration") {
            const auto seconds = parse_seconds(value);
            valid = seconds && *seconds > 0;
            if (valid) options.duration_seconds = *seconds;
        } else if (name == "--size") {
            const auto size = parse_count(value);
            valid = size && *size > 0 && *size <= kMaxMessageSize;
            if (valid) options.message_size = *size;
        } else if (name == "--connect-burst") {
            valid = parse_positive_count(value, options.connect_burst);
        } else if (name == "--server-pids") {
            valid = parse_pids(value, options.server_pids);
        } else if (name == "--warmup") {
            const auto seconds = parse_seconds(value);
            valid = seconds.has_value();
            if (valid) options.warmup_seconds = *seconds;
        } else {
            std::fprintf(stderr, "loadgen: unknown option %.*s\n%s", static_cast<int>(name.size()),
                         name.data(), kUsage);
            return std::nullopt;
        }
        if (!valid) {
            std::fprintf(stderr, "loadgen: %.*s: invalid value '%.*s'\n",
                         static_cast<int>(name.size()), name.data(),
                         static_cast<int>(value.size()), value.data());
            return std::nullopt;
        }
    }
    if (!have_target) {
        std::fprintf(stderr, "loadgen: --target is required\n%s", kUsage);
        return std::nullopt;
    }
    if (options.churn && options.connect_burst > 0) {
        std::fprintf(stderr, "loadgen: --churn opens connections in its own loops; it takes no "
                             "--connect-burst or --connect-slowly\n");
        return std::nullopt;
    }

    rlimit fd_limit{};
    if (getrlimit(RLIMIT_NOFILE, &fd_limit) != 0) {
        std::fprintf(stderr, "loadgen: getrlimit(RLIMIT_NOFILE) failed: %s\n", std::strerror(errno));
        return std::nullopt;
    }
    if (fd_limit.rlim_cur != RLIM_INFINITY &&
        options.connections + kReservedFds > fd_limit.rlim_cur) {
        std::fprintf(stderr, "loadgen: --connections %zu needs more descriptors than the limit %llu\n",
                     options.connections, static_cast<unsigned long long>(fd_limit.rlim_cur));
        return std::nullopt;
    }
    if (options.connections * options.message_size > kMaxBufferedBytes) {
        std::fprintf(stderr, "loadgen: --connections times --size exceeds %zu bytes of buffers\n",
                     kMaxBufferedBytes);
        return std::nullopt;
    }
    return options;
}

class LoadGenerator {
public:
    LoadGenerator(const Options& options, Fd epoll)
        : options_(options), epoll_(std::move(epoll)), connections_(options.connections) {
        for (std::size_t index = 0; index < connections_.size(); ++index) {
            connections_[index].id = static_cast<std::uint32_t>(index);
            connections_[index].message.resize(options.message_size);
        }
    }

    // Opens every connection before any load starts, so that connection set-up never mixes with
    // the measured round trips.
    //
    // By default up to kMaxConnectsInFlight connects are in flight, each replaced as soon as it
    // completes. With --connect-burst N, N connects start together and the next N only once all
    // of them have completed: arrivals come in bursts, with a pause for the server to accept.
    void connect_all() {
        const auto started = Clock::now();
        const auto give_up_at = started + kConnectPhaseLimit;
        const bool in_bursts = options_.connect_burst > 0;
        const std::size_t window = in_bursts ? options_.connect_burst : kMaxConnectsInFlight;
        std::size_t next = 0;
        Clock::time_point last_sweep = started;
        while (next < connections_.size() || connecting_ > 0) {
            if (!in_bursts || connecting_ == 0) {
                const std::size_t end = std::min(connections_.size(), next + window);
                while (next < end && connecting_ < window) start_connect(connections_[next++]);
            }
            // Connects that settled at once leave nothing to wait for before the next ones.
            const int ready = wait_for_events(std::chrono::milliseconds(connecting_ > 0 ? 100 : 0));
            for (int index = 0; index < ready; ++index) {
                Connection& connection = connections_[events_[index].data.u64];
                if (connection.state != ConnectionState::Connecting) continue;
                finish_connect(connection);
            }
            const auto now = Clock::now();
            expire_connects(now, last_sweep);
            if (now > give_up_at && next < connections_.size()) {
                std::fprintf(stderr, "loadgen: gave up connecting after %lld s\n",
                             static_cast<long long>(kConnectPhaseLimit.count()));
                counters_.connect_errors += connections_.size() - next;
                next = connections_.size();
            }
        }
        connect_seconds_ = std::chrono::duration<double>(Clock::now() - started).count();
        connected_ = live_connections_;
    }

    // With --hold: says how many connections are open, then waits for the start signal, which
    // main blocked before anything else so that one sent early stays pending.
    bool wait_for_start() const {
        // One write, and the number followed by more text: a caller reading the line while it is
        // written never takes a number cut short for the whole.
        char line[96];
        const int length = std::snprintf(line, sizeof line,
                                         "loadgen: holding connected=%zu until SIGUSR1\n",
                                         live_connections_);
        if (::write(STDERR_FILENO, line, static_cast<std::size_t>(length)) < 0) return false;
        sigset_t start_signal;
        sigemptyset(&start_signal);
        sigaddset(&start_signal, kStartSignal);
        const auto give_up_at = Clock::now() + kHoldLimit;
        for (auto now = Clock::now(); now < give_up_at; now = Clock::now()) {
            const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(give_up_at - now);
            const timespec timeout{static_cast<time_t>(left.count() / 1'000'000'000),
                                   static_cast<long>(left.count() % 1'000'000'000)};
            if (sigtimedwait(&start_signal, nullptr, &timeout) == kStartSignal) return true;
            if (errno != EINTR) break;
        }
        std::fprintf(stderr, "loadgen: no SIGUSR1 within %lld s; giving up\n",
                     static_cast<long long>(kHoldLimit.count()));
        return false;
    }

    // Ping-pong on every established connection, or with --churn the connect-echo-close loops,
    // for warmup plus duration; only round trips that complete after the warmup are counted.
    void run() {
        const auto started = Clock::now();
        measure_from_ = started + to_duration(options_.warmup_seconds);
        measure_until_ = measure_from_ + to_duration(options_.duration_seconds);
        for (Connection& connection : connections_) {
            if (options_.churn) {
                start_connect(connection);
            } else if (connection.state == ConnectionState::Established) {
                start_message(connection, started);
            }
        }
        poll_until(measure_from_);
        const auto server_cpu_before = sample_server_cpu();
        poll_until(measure_until_);
        const auto server_cpu_after = sample_server_cpu();
        if (server_cpu_before && server_cpu_after) {
            server_cpu_seconds_ = *server_cpu_after - *server_cpu_before;
        }

        // Wait for the messages still in flight before closing: the server then sees orderly
        // closes instead of resets, and a message that never comes back is caught as stalled.
        draining_ = true;
        poll_until(measure_until_ + kStallLimit);
        for (const Connection& connection : connections_) {
            if (connection.state != ConnectionState::Established) continue;
            if (counters_.stalled == 0) {
                std::fprintf(stderr, "loadgen: connection %u got only %zu of %zu bytes back\n",
                             connection.id, connection.received, connection.message.size());
            }
            ++counters_.stalled;
        }
    }

    void print_report() const {
        constexpr double kNanosecondsPerMicrosecond = 1000.0;
        const double per_second =
            static_cast<double>(counters_.measured_messages) / options_.duration_seconds;
        std::printf(
            "connections=%zu size=%zu duration_s=%g messages=%llu msgs_per_sec=%.0f p50_us=%.1f "
            "p99_us=%.1f max_us=%.1f connect_errors=%llu resets=%llu closed=%llu stalled=%llu "
            "errors=%llu wrong_bytes=%llu",
            options_.connections, options_.message_size, options_.duration_seconds,
            static_cast<unsigned long long>(counters_.measured_messages), per_second,
            static_cast<double>(latencies_.quantile(0.50)) / kNanosecondsPerMicrosecond,
            static_cast<double>(latencies_.quantile(0.99)) / kNanosecondsPerMicrosecond,
            static_cast<double>(latencies_.max()) / kNanosecondsPerMicrosecond,
            static_cast<unsigned long long>(counters_.connect_errors),
            static_cast<unsigned long long>(counters_.resets),
            static_cast<unsigned long long>(counters_.closed),
            static_cast<unsigned long long>(counters_.stalled),
            static_cast<unsigned long long>(counters_.errors()),
            static_cast<unsigned long long>(counters_.wrong_bytes));
        if (options_.churn) {
            std::printf(" mode=churn conns_per_sec=%.0f connected=%llu", per_second,
                        static_cast<unsigned long long>(established_));
        } else {
            std::printf(" mode=pingpong connected=%zu connect_s=%.3f", connected_, connect_seconds_);
        }
        if (server_cpu_seconds_) std::printf(" server_cpu_s=%.2f", *server_cpu_seconds_);
        std::printf("\n");
        std::fflush(stdout);
    }

    bool passed() const { return counters_.errors() == 0 && counters_.wrong_bytes == 0; }

private:
    static Clock::duration to_duration(double seconds) {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    }

    void poll_until(Clock::time_point deadline) {
        Clock::time_point last_sweep = Clock::now();
        for (auto now = last_sweep; now < deadline && live_connections_ + connecting_ > 0;
             now = Clock::now()) {
            auto timeout = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
            // Only churn connects during the load, and its connects too must time out.
            if (connecting_ > 0) timeout = std::min<std::chrono::milliseconds>(timeout, kSweepInterval);
            const int ready = wait_for_events(timeout);
            for (int index = 0; index < ready; ++index) {
                handle_event(connections_[events_[index].data.u64], events_[index].events);
            }
            if (connecting_ > 0) expire_connects(Clock::now(), last_sweep);
        }
    }

    // Fails the connects in flight past kConnectTimeout. O(connections), so at most once per
    // kSweepInterval however fast the rounds that call it.
    void expire_connects(Clock::time_point now, Clock::time_point& last_sweep) {
        if (now - last_sweep < kSweepInterval) return;
        last_sweep = now;
        for (Connection& connection : connections_) {
            if (connection.state == ConnectionState::Connecting &&
                now - connection.connect_started > kConnectTimeout) {
                report_connect_error(ETIMEDOUT);
                fail_connect(connection);
            }
        }
    }

    std::optional<double> sample_server_cpu() const {
        if (options_.server_pids.empty()) return std::nullopt;
        return cpu_seconds_of(options_.server_pids);
    }

    // epoll_wait over the whole set; EINTR (a stop signal, a debugger) is just an empty round.
    int wait_for_events(std::chrono::milliseconds timeout) {
        const int ready = epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()),
                                     static_cast<int>(std::max<std::int64_t>(timeout.count(), 0)));
        if (ready < 0 && errno != EINTR) {
            std::fprintf(stderr, "loadgen: epoll_wait failed: %s\n", std::strerror(errno));
            std::exit(kExitFailed);
        }
        return std::max(ready, 0);
    }

    bool watch(Connection& connection, std::uint32_t events, int operation) {
        epoll_event event{};
        event.events = events;
        event.data.u64 = connection.id;
        if (epoll_ctl(epoll_.get(), operation, connection.socket.get(), &event) != 0) {
            std::fprintf(stderr, "loadgen: epoll_ctl failed: %s\n", std::strerror(errno));
            return false;
        }
        return true;
    }

    // Returns true when the connect is in flight; an immediate success or failure is settled here.
    bool start_connect(Connection& connection) {
        connection.connect_started = Clock::now();
        connection.socket = Fd(socket(options_.target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!connection.socket.valid()) {
            std::fprintf(stderr, "loadgen: socket failed: %s\n", std::strerror(errno));
            fail_connect(connection);
            return false;
        }
        // One small message at a time is exactly the case Nagle's algorithm delays.
        const int enable = 1;
        setsockopt(connection.socket.get(), IPPROTO_TCP, TCP_NODELAY, &enable, sizeof enable);

        if (connect(connection.socket.get(), reinterpret_cast<const sockaddr*>(&options_.target),
                    options_.target_length) == 0) {
            established(connection, EPOLL_CTL_ADD);
            return false;
        }
        if (errno != EINPROGRESS) {
            report_connect_error(errno);
            fail_connect(connection);
            return false;
        }
        connection.state = ConnectionState::Connecting;
        ++connecting_;
        if (!watch(connection, EPOLLOUT, EPOLL_CTL_ADD)) {
            fail_connect(connection);
            return false;
        }
        return true;
    }

    void finish_connect(Connection& connection) {
        int error = 0;
        socklen_t length = sizeof error;
        if (getsockopt(connection.socket.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
            error = errno;
        }
        if (error != 0) {
            report_connect_error(error);
            fail_connect(connection);
            return;
        }
        --connecting_;
        established(connection, EPOLL_CTL_MOD);
    }

    // The connection is up: it waits for replies (registered with `operation`), and with --churn
    // its one message goes at once.
    void established(Connection& connection, int operation) {
        connection.state = ConnectionState::Established;
        ++live_connections_;
        ++established_;
        if (!watch(connection, EPOLLIN, operation)) {
            fail_connect(connection);
        } else if (options_.churn) {
            start_message(connection, Clock::now());
        }
    }

    void report_connect_error(int error) {
        if (counters_.connect_errors == 0) {
            std::fprintf(stderr, "loadgen: connect failed: %s\n", std::strerror(error));
        }
    }

    void fail_connect(Connection& connection) {
        ++counters_.connect_errors;
        close(connection);
    }

    void close(Connection& connection) {
        if (connection.state == ConnectionState::Established) --live_connections_;
        if (connection.state == ConnectionState::Connecting) --connecting_;
        connection.state = ConnectionState::Closed;
        connection.socket.reset();  // closing also removes it from the epoll set
    }

    void start_message(Connection& connection, Clock::time_point now) {
        fill_message(connection);
        connection.sent = 0;
        connection.received = 0;
        connection.sent_at = now;
        send_pending(connection);
    }

    void send_pending(Connection& connection) {
        while (connection.sent < connection.message.size()) {
            const ssize_t written = send(connection.socket.get(),
                                         connection.message.data() + connection.sent,
                                         connection.message.size() - connection.sent, MSG_NOSIGNAL);
            if (written >= 0) {
                connection.sent += static_cast<std::size_t>(written);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!connection.waiting_to_write) {
                    connection.waiting_to_write = watch(connection, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                    if (!connection.waiting_to_write) fail_established(connection, errno);
                }
                return;
            }
            fail_established(connection, errno);
            return;
        }
        if (connection.waiting_to_write) {
            connection.waiting_to_write = false;
            if (!watch(connection, EPOLLIN, EPOLL_CTL_MOD)) fail_established(connection, errno);
        }
    }

    void fail_established(Connection& connection, int error) {
        if (counters_.resets == 0) {
            std::fprintf(stderr, "loadgen: connection %u failed: %s\n", connection.id,
                         std::strerror(error));
        }
        ++counters_.resets;
        close(connection);
    }

    void handle_event(Connection& connection, std::uint32_t events) {
        if (connection.state == ConnectionState::Connecting) {
            finish_connect(connection);
            return;
        }
        if (connection.state != ConnectionState::Established) return;
        // Read first: EPOLLERR and EPOLLHUP surface through recv with the actual errno.
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) receive(connection);
        if (connection.state == ConnectionState::Established && (events & EPOLLOUT)) {
            send_pending(connection);
        }
    }

    void receive(Connection& connection) {
        const ssize_t count = recv(connection.socket.get(), receive_buffer_.data(),
                                   receive_buffer_.size(), 0);
        if (count < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            fail_established(connection, errno);
            return;
        }
        if (count == 0) {
            if (counters_.closed == 0) {
                std::fprintf(stderr, "loadgen: server closed connection %u\n", connection.id);
            }
            ++counters_.closed;
            close(connection);
            return;
        }
        const auto length = static_cast<std::size_t>(count);
        // An echo can only return what was sent; anything past that is wrong by definition and
        // leaves the stream out of step, so the connection is dropped.
        const std::size_t echoable = std::min(length, connection.sent - connection.received);
        if (std::memcmp(receive_buffer_.data(), connection.message.data() + connection.received,
                        echoable) != 0) {
            count_mismatches(connection, echoable);
        }
        if (echoable < length) {
            report_mismatch(connection, connection.sent, "nothing (more than was sent)",
                            receive_buffer_[echoable]);
            counters_.wrong_bytes += length - echoable;
            close(connection);
            return;
        }
        connection.received += length;
        if (connection.received < connection.message.size()) return;

        const auto now = Clock::now();
        // A churn loop's round trip runs from its connect to the echo.
        const auto round_trip_started = options_.churn ? connection.connect_started : connection.sent_at;
        if (now >= measure_from_ && now < measure_until_) {
            ++counters_.measured_messages;
            latencies_.record(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - round_trip_started)
                    .count()));
        }
        ++connection.sequence;
        if (draining_ || options_.churn) close(connection);
        if (options_.churn && !draining_) {
            start_connect(connection);
            return;
        }
        if (!draining_) start_message(connection, now);
    }

    void count_mismatches(const Connection& connection, std::size_t length) {
        for (std::size_t index = 0; index < length; ++index) {
            const std::size_t offset = connection.received + index;
            if (receive_buffer_[index] != connection.message[offset]) {
                char expected[8];
                std::snprintf(expected, sizeof expected, "0x%02x", connection.message[offset]);
                report_mismatch(connection, offset, expected, receive_buffer_[index]);
                ++counters_.wrong_bytes;
            }
        }
    }

    void report_mismatch(const Connection& connection, std::size_t offset, const char* expected,
                         std::uint8_t received) {
        if (reported_mismatches_++ >= kMaxReportedMismatches) return;
        std::fprintf(stderr,
                     "loadgen: wrong byte on connection %u, message %llu, offset %zu: "
                     "expected %s, got 0x%02x\n",
                     connection.id, static_cast<unsigned long long>(connection.sequence), offset,
                     expected, received);
    }

    const Options options_;
    Fd epoll_;
    std::vector<Connection> connections_;
    std::size_t live_connections_ = 0;
    std::size_t connecting_ = 0;  // connects in flight
    std::size_t connected_ = 0;   // established when the connect phase ended
    std::uint64_t established_ = 0;  // over the whole run
    double connect_seconds_ = 0;
    std::optional<double> server_cpu_seconds_;
    std::array<epoll_event, 512> events_{};
    std::array<std::uint8_t, 64 * 1024> receive_buffer_{};
    Clock::time_point measure_from_;
    Clock::time_point measure_until_;
    bool draining_ = false;  // the measured time is over: close each connection once it is idle
    LatencyHistogram latencies_;
    Counters counters_;
    std::size_t reported_mismatches_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const auto options = parse_options(argc, argv);
    if (!options) return kExitUsage;

    Fd epoll(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll.valid()) {
        std::fprintf(stderr, "loadgen: epoll_create1 failed: %s\n", std::strerror(errno));
        return kExitFailed;
    }
    // On the heap: the receive buffer, epoll events and histogram are too big for the stack.
    // Blocked from the start, so that a start signal sent before --hold waits for it is kept.
    sigset_t start_signal;
    sigemptyset(&start_signal);
    sigaddset(&start_signal, kStartSignal);
    sigprocmask(SIG_BLOCK, &start_signal, nullptr);

    auto generator = std::make_unique<LoadGenerator>(*options, std::move(epoll));
    if (!options->churn) generator->connect_all();
    if (options->hold && !generator->wait_for_start()) return kExitFailed;
    generator->run();
    generator->print_report();
    return generator->passed() ? kExitOk : kExitFailed;
}
