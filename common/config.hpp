// Reading and validating the YAML configuration. `corral check` and `corral run` both call
// load_config and nothing else before binding, so the two can never disagree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/config_types.hpp"
#include "common/result.hpp"

namespace corral {

struct ConfigError {
    std::string file;
    int line = 0;  // 1-based
    int column = 0;  // 1-based
    std::string message;  // names the key, e.g. "limits.read_buffer: expected a size ..."

    // "FILE:LINE:COLUMN: error: MESSAGE", or "FILE: error: MESSAGE" when line is 0 (the error
    // concerns the whole file, e.g. it cannot be read).
    std::string to_string() const;
};

// Every problem found, in the order of the file; never empty when reading failed.
using ConfigErrors = std::vector<ConfigError>;
using ConfigResult = Result<Config, ConfigErrors>;

// The problems of a result: none when it succeeded.
const ConfigErrors& errors_of(const ConfigResult& result);

// Reads and validates the file at path. An unreadable file is one error at line 0, column 0.
ConfigResult load_config(const std::string& path);

// Validates YAML text; path is used in messages and stored in Config::path.
ConfigResult parse_config(std::string_view yaml_text, const std::string& path);

}  // namespace corral
