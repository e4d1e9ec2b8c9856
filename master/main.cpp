// The corral command line: run, check, version. Parsing only; the work is elsewhere.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "common/config.hpp"
#include "common/log.hpp"
#include "master/master.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr const char* kDefaultConfigPath = "/etc/corral/corral.yaml";

constexpr const char* kUsage =
    "usage: corral run    [-c FILE]   run in the foreground\n"
    "       corral check  [-c FILE]   validate FILE\n"
    "       corral version            print the version\n"
    "FILE defaults to /etc/corral/corral.yaml.\n";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "corral: %s\n%s", message.c_str(), kUsage);
    return kExitUsage;
}

struct Arguments {
    std::string command;
    std::string config_path = kDefaultConfigPath;
};

// Returns an empty string on success, else what was wrong with the arguments.
std::string parse_arguments(int argc, char** argv, Arguments& arguments) {
    if (argc < 2) return "missing command";
    arguments.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string_view argument = argv[i];
        if (argument == "-c" || argument == "--config") {
            if (i + 1 >= argc) return std::string(argument) + " needs a FILE";
            arguments.config_path = argv[++i];
        } else if (argument.starts_with("--config=")) {
            arguments.config_path = std::string(argument.substr(std::strlen("--config=")));
        } else {
            return "unexpected argument \"" + std::string(argument) + "\"";
        }
    }
    if (arguments.config_path.empty()) return "the config FILE is empty";
    return "";
}

// The one place configuration errors are printed, for check and run alike.
std::optional<corral::Config> load_or_report(const std::string& path) {
    corral::ConfigResult result = corral::load_config(path);
    for (const corral::ConfigError& error : result.errors) std::fprintf(stderr, "%s\n", error.to_string().c_str());
    return std::move(result.config);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && (std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help" ||
                      std::string_view(argv[1]) == "help")) {
        std::fputs(kUsage, stdout);
        return kExitOk;
    }
    Arguments arguments;
    if (std::string problem = parse_arguments(argc, argv, arguments); !problem.empty()) return usage_error(problem);

    if (arguments.command == "version") {
        if (argc > 2) return usage_error("version takes no arguments");
        std::printf("corral %s\n", CORRAL_VERSION);
        return kExitOk;
    }
    if (arguments.command == "check") {
        if (!load_or_report(arguments.config_path)) return kExitError;
        std::printf("%s: ok\n", arguments.config_path.c_str());
        return kExitOk;
    }
    if (arguments.command == "run") {
        std::optional<corral::Config> config = load_or_report(arguments.config_path);
        if (!config) return kExitError;
        corral::log_configure(config->log.level, STDERR_FILENO, corral::stderr_is_journal());
        return corral::run_master(*config);
    }
    return usage_error("unknown command \"" + arguments.command + "\"");
}
