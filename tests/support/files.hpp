// Test support: reading a whole file (a log, a pid file, a /proc entry).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace corral::test {

// The file's bytes; empty when it cannot be opened (gone, not yet written).
inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace corral::test
