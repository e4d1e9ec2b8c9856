// The `module:` block of a listener that serves service: module: the shared object the workers
// load and the settings handed to it. The file itself is checked once the whole config is read
// (its owner may be the account workers run as), without loading it.
#pragma once

#include <string>

namespace YAML {
class Node;
}

namespace corral {

class ConfigReader;
struct ListenConfig;

void read_module_settings(ConfigReader& reader, const YAML::Node& block, const std::string& path,
                          ListenConfig& listener);

}  // namespace corral
