// The corral command line. Parsing only; the work is in master.cpp and control.cpp.
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "common/config.hpp"
#include "common/log.hpp"
#include "master/control.hpp"
#include "master/inherited_sockets.hpp"
#include "master/master.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr const char* kDefaultConfigPath = "/etc/corral/corral.yaml";

constexpr const char* kUsage =
    "usage: corral run    [-c FILE]            run in the foreground\n"
    "       corral check  [-c FILE]            validate FILE\n"
    "       corral reload [-c FILE]            reload the running master and wait for the outcome\n"
    "       corral stop   [-c FILE] [--fast]   stop the running master and wait for it to exit\n"
    "       corral status [-c FILE] [--json]   show the running master and its workers\n"
    "       corral version                     print the version\n"
    "FILE defaults to /etc/corral/corral.yaml.\n";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "corral: %s\n%s", message.c_str(), kUsage);
    return kExitUsage;
}

struct Arguments {
    std::string command;
    std::string config_path = kDefaultConfigPath;
    bool fast = false;
    bool json = false;
};

// The arguments, or what was wrong with them.
corral::Result<Arguments> parse_arguments(int argc, char** argv) {
    if (argc < 2) return corral::Failure{"missing command"};
    Arguments arguments;
    arguments.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string_view argument = argv[i];
        if (arguments.command == "version") return corral::Failure{"version takes no arguments"};
        if (argument == "-c" || argument == "--config") {
            if (i + 1 >= argc) return corral::Failure{std::string(argument) + " needs a FILE"};
            arguments.config_path = argv[++i];
        } else if (argument.starts_with("--config=")) {
            arguments.config_path = std::string(argument.substr(std::strlen("--config=")));
        } else if (argument == "--fast" && arguments.command == "stop") {
            arguments.fast = true;
        } else if (argument == "--json" && arguments.command == "status") {
            arguments.json = true;
        } else {
            return corral::Failure{"unexpected argument \"" + std::string(argument) + "\""};
        }
    }
    if (arguments.config_path.empty()) return corral::Failure{"the config FILE is empty"};
    return arguments;
}

// The one place configuration errors are printed, for every command that reads the file.
std::optional<corral::Config> load_or_report(const std::string& path) {
    corral::ConfigResult result = corral::load_config(path);
    for (const corral::ConfigError& error : corral::errors_of(result))
        std::fprintf(stderr, "%s\n", error.to_string().c_str());
    if (!result) return std::nullopt;
    return std::move(*result);
}

// The binary a binary upgrade execs: whatever is at this path on disk by then.
std::string own_binary_path() {
    char path[PATH_MAX];
    const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
    return length > 0 ? std::string(path, static_cast<std::size_t>(length)) : std::string("/usr/sbin/corral");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && (std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help" ||
                      std::string_view(argv[1]) == "help")) {
        std::fputs(kUsage, stdout);
        return kExitOk;
    }
    const corral::Result<Arguments> parsed = parse_arguments(argc, argv);
    if (!parsed) return usage_error(parsed.error());
    const Arguments& arguments = *parsed;

    const std::string& command = arguments.command;
    if (command == "version") {
        std::printf("corral %s\n", CORRAL_VERSION);
        return kExitOk;
    }
    if (command != "run" && command != "check" && command != "reload" && command != "stop" && command != "status") {
        return usage_error("unknown command \"" + command + "\"");
    }
    // Before anything opens a descriptor (the config loader's name lookups may): LISTEN_FDS names
    // descriptors from 3 up, and one that was announced but never passed must not turn out to be
    // one of ours by then.
    corral::Inheritance inheritance;
    if (command == "run") {
        corral::Result<corral::Inheritance> taken = corral::take_inheritance();
        if (!taken) {
            log_error("%s", taken.error().c_str());
            return kExitError;
        }
        inheritance = std::move(*taken);
    }
    // Every command reads the file first: reload in particular must not signal a master that
    // would only reject it.
    std::optional<corral::Config> config = load_or_report(arguments.config_path);
    if (!config) return kExitError;
    if (command == "check") {
        std::printf("%s: ok\n", arguments.config_path.c_str());
        return kExitOk;
    }
    if (command == "reload") return corral::control_reload(*config);
    if (command == "stop") return corral::control_stop(*config, arguments.fast);
    if (command == "status") return corral::control_status(*config, arguments.json);
    return corral::run_master(*config, own_binary_path(), std::move(inheritance));
}
