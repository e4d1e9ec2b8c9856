// defined_dynamic_symbols on arbitrary bytes: what corral check reads from a module file that
// anyone could have put in its place. Properties: it never reads outside the image (the
// sanitizers), a refusal says why, and every name it returns starts with the prefix asked for
// and holds no NUL.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/elf_symbols.hpp"
#include "fuzz/check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> image(reinterpret_cast<const std::byte*>(data), size);
    for (std::string_view prefix : {std::string_view("corral_module_v"), std::string_view("")}) {
        const auto symbols = corral::defined_dynamic_symbols(image, prefix);
        if (!symbols) {
            FUZZ_CHECK(!symbols.error().empty());
            continue;
        }
        for (const std::string& name : *symbols) {
            FUZZ_CHECK(name.starts_with(prefix), name);
            FUZZ_CHECK(name.find('\0') == std::string::npos, name);
        }
    }
    return 0;
}
