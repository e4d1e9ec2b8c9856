// Reading descriptors, CPU time and socket ownership from /proc.
#include "tests/support/process_probe.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <type_traits>
#include <unordered_map>

#include "tests/support/files.hpp"
#include "tests/support/wait.hpp"

namespace corral::test {
namespace {

// Calls visit(target) with the link target of every open descriptor of pid, or
// visit(number, target) when visit takes both.
template <class Visit>
void for_each_fd(pid_t pid, Visit visit) {
    const std::string directory = "/proc/" + std::to_string(pid) + "/fd";
    DIR* fds = ::opendir(directory.c_str());
    if (fds == nullptr) return;
    while (dirent* entry = ::readdir(fds)) {
        if (entry->d_name[0] == '.') continue;
        char target[4096];
        const std::string link = directory + "/" + entry->d_name;
        const ssize_t length = ::readlink(link.c_str(), target, sizeof target - 1);
        if (length < 0) continue;  // closed meanwhile
        std::string text(target, static_cast<std::size_t>(length));
        if constexpr (std::is_invocable_v<Visit, int, std::string>) visit(std::atoi(entry->d_name), std::move(text));
        else visit(std::move(text));
    }
    ::closedir(fds);
}

// The inode of a "socket:[INODE]" link target, 0 for anything else.
std::uint64_t socket_inode(const std::string& target) {
    if (!target.starts_with("socket:[")) return 0;
    return std::strtoull(target.c_str() + 8, nullptr, 10);
}

// Adds (socket inode -> remote port) for every accepted connection to server_port listed in a
// /proc/net/tcp-format table.
void read_tcp_table(const std::string& path, std::uint16_t server_port,
                    std::unordered_map<std::uint64_t, std::uint16_t>& port_of_inode) {
    std::istringstream table(read_file(path));
    std::string line;
    std::getline(table, line);  // header
    while (std::getline(table, line)) {
        // "  sl: LOCALADDR:PORT REMADDR:PORT ST TX:RX TR:WHEN RETR UID TIMEOUT INODE ..."
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
        std::uint64_t inode = 0;
        if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode)) {
            continue;
        }
        if (inode == 0 || state == "0A") continue;  // not accepted yet, or a listener
        const auto local_port = static_cast<std::uint16_t>(std::strtoul(local.c_str() + local.rfind(':') + 1, nullptr, 16));
        if (local_port != server_port) continue;
        port_of_inode[inode] = static_cast<std::uint16_t>(std::strtoul(remote.c_str() + remote.rfind(':') + 1, nullptr, 16));
    }
}

}  // namespace

std::size_t open_fd_count(pid_t pid) {
    std::size_t count = 0;
    for_each_fd(pid, [&](const std::string&) { ++count; });
    return count;
}

std::size_t steady_fd_count(pid_t pid, std::chrono::milliseconds timeout) {
    std::size_t count = 0;
    int same = 0;
    poll_until(timeout, [&] {
        const std::size_t now = open_fd_count(pid);
        same = same > 0 && now == count ? same + 1 : 1;
        count = now;
        return same >= 5;
    }, std::chrono::milliseconds(20));
    return count;
}

std::string fd_listing(pid_t pid) {
    std::map<int, std::string> by_number;
    for_each_fd(pid, [&](int number, std::string target) { by_number[number] = std::move(target); });
    std::string text;
    for (const auto& [number, target] : by_number) text += std::to_string(number) + " -> " + target + "\n";
    return text;
}

double cpu_seconds(pid_t pid) {
    const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    const std::size_t after_name = stat.rfind(')');
    if (after_name == std::string::npos) return 0;
    // Fields after the name start with the 3rd (state); utime and stime are the 14th and 15th.
    std::istringstream fields(stat.substr(after_name + 2));
    std::string field;
    unsigned long long ticks = 0;
    for (int number = 3; number <= 15 && fields >> field; ++number) {
        if (number >= 14) ticks += std::stoull(field);
    }
    return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::vector<std::uint64_t> socket_inodes(pid_t pid) {
    std::vector<std::uint64_t> inodes;
    for_each_fd(pid, [&](const std::string& target) {
        if (const std::uint64_t inode = socket_inode(target)) inodes.push_back(inode);
    });
    return inodes;
}

std::map<std::uint16_t, pid_t> connection_owners(std::uint16_t server_port, const std::vector<pid_t>& processes) {
    std::unordered_map<std::uint64_t, std::uint16_t> port_of_inode;
    read_tcp_table("/proc/net/tcp", server_port, port_of_inode);
    read_tcp_table("/proc/net/tcp6", server_port, port_of_inode);
    std::map<std::uint16_t, pid_t> owners;
    if (port_of_inode.empty()) return owners;
    for (pid_t pid : processes) {
        for (std::uint64_t inode : socket_inodes(pid)) {
            const auto found = port_of_inode.find(inode);
            if (found != port_of_inode.end()) owners[found->second] = pid;
        }
    }
    return owners;
}

std::size_t count_lines(const std::string& text) {
    std::size_t lines = 0;
    for (char c : text) lines += c == '\n';
    if (!text.empty() && text.back() != '\n') ++lines;
    return lines;
}

std::size_t count_occurrences(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++count;
    return count;
}

}  // namespace corral::test
