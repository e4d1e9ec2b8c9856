// The `http:` block of a listener that serves service: http: routes, the default response, the
// headers added to every response and the header timeout. Read at config load, so that every
// page named by `file:` is in memory before a worker starts and a reload picks up a new one.
#pragma once

#include <string>

namespace YAML {
class Node;
}

namespace corral {

class ConfigReader;
struct ListenConfig;

void read_http_settings(ConfigReader& reader, const YAML::Node& block, const std::string& path,
                        ListenConfig& listener);

}  // namespace corral
