// CorralProcess and friends. Polling with generous bounds is deliberate: the tests wait for a
// condition (a log line, a process count), never for a fixed time.
#include "tests/support/corral_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/files.hpp"

namespace corral::test {
namespace {

std::string binary() {
    const char* path = std::getenv("CORRAL_BINARY");
    if (path == nullptr) throw std::runtime_error("CORRAL_BINARY is not set");
    return path;
}

pid_t spawn(const std::vector<std::string>& arguments, int out_fd, int err_fd,
            const std::vector<std::string>& environment = {}, const std::vector<std::string>& launcher = {}) {
    std::vector<char*> argv;
    std::vector<std::string> copies = launcher;
    copies.push_back(binary());
    copies.insert(copies.end(), arguments.begin(), arguments.end());
    for (std::string& argument : copies) argv.push_back(argument.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out_fd, STDOUT_FILENO);
        ::dup2(err_fd, STDERR_FILENO);
        const int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, STDIN_FILENO);
        // Signals the test process blocks must not stay blocked in corral.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (const std::string& variable : environment) ::putenv(const_cast<char*>(variable.c_str()));
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

}  // namespace

TempDir::TempDir() {
    char pattern[] = "/tmp/corral-test-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << content;
    return file;
}

CommandResult run_corral(const std::vector<std::string>& arguments) {
    TempDir dir;
    const std::string out_path = dir.path() + "/out";
    const std::string err_path = dir.path() + "/err";
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const pid_t pid = spawn(arguments, out_fd, err_fd);
    ::close(out_fd);
    ::close(err_fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CommandResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    result.out = read_file(out_path);
    result.err = read_file(err_path);
    return result;
}

std::string shell_output(const std::string& command) {
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return output;
    char buffer[4096];
    while (std::size_t count = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, count);
    ::pclose(pipe);
    return output;
}

CorralProcess::CorralProcess(const std::string& config_yaml, const std::vector<std::string>& environment,
                             const std::vector<std::string>& launcher) {
    config_path_ = dir_.write("corral.yaml", config_yaml);
    const std::string log_path = dir_.path() + "/corral.log";
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = spawn({"run", "-c", config_path_}, log_fd, log_fd, environment, launcher);
    ::close(log_fd);
}

void CorralProcess::write_config(const std::string& config_yaml) const { dir_.write("corral.yaml", config_yaml); }

void CorralProcess::adopt(pid_t new_master) {
    if (!exited_) ::waitpid(pid_, nullptr, 0);
    pid_ = new_master;
    exited_ = false;
}

CorralProcess::~CorralProcess() {
    if (pid_ <= 0) return;
    const std::vector<pid_t> workers_left = workers();
    if (!exited_) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    // Orphaned by the master's death they become this process's children: reap them too.
    for (pid_t worker : workers_left) {
        ::kill(worker, SIGKILL);
        wait_gone(worker, 5s);
    }
}

std::string CorralProcess::log() const { return read_file(dir_.path() + "/corral.log"); }

bool CorralProcess::wait_for_log(const std::string& text, std::chrono::milliseconds timeout, int count) const {
    return poll_until(timeout, [&] {
        const std::string content = log();
        int found = 0;
        for (std::size_t at = content.find(text); at != std::string::npos; at = content.find(text, at + 1)) ++found;
        return found >= count;
    });
}

std::vector<std::uint16_t> CorralProcess::wait_ready(std::chrono::milliseconds timeout) {
    if (!wait_for_log("workers are ready", timeout)) return {};
    std::vector<std::uint16_t> ports;
    const std::string content = log();
    const std::string marker = "listening on ";
    for (std::size_t at = content.find(marker); at != std::string::npos; at = content.find(marker, at + 1)) {
        const std::size_t begin = at + marker.size();
        const std::string address = content.substr(begin, content.find(' ', begin) - begin);
        if (address.starts_with("unix:")) {
            ports.push_back(0);
        } else {
            ports.push_back(static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
        }
    }
    return ports;
}

std::vector<pid_t> CorralProcess::workers() const { return children_named(pid_, "corral-worker"); }

bool CorralProcess::wait_for_workers(std::size_t count, const std::vector<pid_t>& excluded,
                                     std::chrono::milliseconds timeout) const {
    return poll_until(timeout, [&] {
        const std::vector<pid_t> now = workers();
        if (now.size() != count) return false;
        return std::none_of(now.begin(), now.end(), [&](pid_t pid) {
            return std::find(excluded.begin(), excluded.end(), pid) != excluded.end();
        });
    });
}

void CorralProcess::signal(int signal_number) const { ::kill(pid_, signal_number); }

std::optional<int> CorralProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (exited_) return exit_code_;
    int status = 0;
    const bool done = poll_until(timeout, [&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
    if (!done) return std::nullopt;
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return exit_code_;
}

std::optional<int> CorralProcess::stop(std::chrono::milliseconds timeout) {
    signal(SIGTERM);
    return wait_exit(timeout);
}

char process_state(pid_t pid) {
    const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    const std::size_t after_name = stat.rfind(')');
    if (after_name == std::string::npos || after_name + 2 >= stat.size()) return 0;
    return stat[after_name + 2];
}

bool wait_stopped(pid_t pid, std::chrono::milliseconds timeout) {
    return poll_until(timeout, [&] { return process_state(pid) == 'T'; });
}

bool process_gone(pid_t pid) {
    // Orphaned workers are re-parented to the test process (a subreaper): reap them here.
    ::waitpid(pid, nullptr, WNOHANG);
    const char state = process_state(pid);
    return state == 0 || state == 'Z';
}

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
    return poll_until(timeout, [&] { return process_gone(pid); });
}

std::size_t resident_kib(pid_t pid) {
    std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6));
    }
    return 0;
}

std::vector<pid_t> children_named(pid_t parent, const std::string& comm) {
    std::vector<pid_t> found;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return found;
    while (dirent* entry = ::readdir(proc)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
        if (pid <= 0) continue;
        const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
        const std::size_t open = stat.find('(');
        const std::size_t close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close + 4 > stat.size()) continue;
        if (stat.substr(open + 1, close - open - 1) != comm) continue;
        char state = 0;
        int ppid = 0;
        if (std::sscanf(stat.c_str() + close + 2, "%c %d", &state, &ppid) != 2) continue;
        if (ppid == parent && state != 'Z') found.push_back(pid);
    }
    ::closedir(proc);
    std::sort(found.begin(), found.end());
    return found;
}

}  // namespace corral::test
