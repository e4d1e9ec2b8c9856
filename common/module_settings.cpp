// Reading the module block. The settings are the module's business: any mapping is accepted and
// handed over as YAML text, with its top-level scalars also by key for modules that need no more.
#include "common/service_catalog.hpp"

#include <array>
#include <optional>

#include "common/config_reader.hpp"
#include "common/module_file.hpp"
#include "common/trusted_path.hpp"

namespace corral {

void read_module_settings(ConfigReader& reader, const YAML::Node& block, const std::string& path,
                          ListenConfig& listener) {
    ModuleConfig& module = listener.module;
    std::optional<std::string> file;
    YAML::Mark file_mark;
    const std::array<ConfigReader::Key, 2> keys{{
        {"path", [&](const YAML::Node& value, const std::string& where) {
             file = reader.scalar(value, where, "the path of a shared object");
             file_mark = value.Mark();
         }},
        {"settings", [&](const YAML::Node& value, const std::string& where) {
             if (!value.IsMap()) return reader.fail_expected(value, where, "a map of the module's settings");
             module.settings_yaml = YAML::Dump(value);
             for (const auto& entry : value) {
                 if (entry.first.IsScalar() && entry.second.IsScalar())
                     module.scalar_settings.emplace_back(entry.first.Scalar(), entry.second.Scalar());
             }
         }},
    }};
    reader.read_map(block, path, keys);
    if (!block.IsMap()) return;
    if (!file) {
        reader.fail(block.Mark(), path + ".path: required key is missing; name the module's shared object");
        return;
    }
    module.path = reader.resolve(*file);
    module.file = std::make_shared<Fd>();
    reader.defer([&reader, file_mark, where = path + ".path", resolved = module.path, held = module.file](const Config& config) {
        Result<Fd> opened = open_module_file(resolved, trusted_owners(config));
        if (!opened) {
            reader.fail(file_mark, where + ": " + resolved + ": " + opened.error());
            return;
        }
        *held = std::move(*opened);
    });
}

}  // namespace corral
