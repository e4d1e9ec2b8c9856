// Test support: what a running process holds and uses, read from /proc: its open descriptors,
// its CPU time, and which process owns the server end of a loopback TCP connection.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace corral::test {

// Number of open descriptors of pid (entries of /proc/PID/fd); 0 if it is gone.
std::size_t open_fd_count(pid_t pid);

// The number of open descriptors once it has held still (the same count read five times, 20 ms
// apart; at most `timeout`): a descriptor being closed just now, such as an admin connection the
// master closes right after its response, is not counted.
std::size_t steady_fd_count(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Every open descriptor of pid as "FD -> TARGET", one per line, in descriptor order.
std::string fd_listing(pid_t pid);

// User plus system CPU time of pid so far, in seconds; 0 if it is gone.
double cpu_seconds(pid_t pid);

// The socket inodes among pid's open descriptors ("socket:[INODE]").
std::vector<std::uint64_t> socket_inodes(pid_t pid);

// Which process holds the server end of each TCP connection to server_port (in this network
// namespace), among `processes`: client (remote) port -> pid. Read in one batch (/proc/net/tcp
// and tcp6 once, then each process's descriptors once), so it is cheap enough to call many times
// a second. Connections not yet accepted (still in a listen queue) have no owner and are left out.
std::map<std::uint16_t, pid_t> connection_owners(std::uint16_t server_port, const std::vector<pid_t>& processes);

// Number of lines in text (a final line without a newline counts).
std::size_t count_lines(const std::string& text);

// Number of times needle occurs in text.
std::size_t count_occurrences(const std::string& text, const std::string& needle);

}  // namespace corral::test
