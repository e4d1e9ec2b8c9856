// The dynamic symbols a shared object defines, read from its ELF file as bytes: what `corral
// check` and the master learn about a module without loading it, since loading runs its code.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace corral {

// The names of the defined symbols in the image's .dynsym that start with `prefix`, or why the
// image is not a shared object this machine could load (not ELF, another class or byte order, no
// dynamic symbol table, or offsets that point outside the image).
Result<std::vector<std::string>> defined_dynamic_symbols(std::span<const std::byte> image, std::string_view prefix);

}  // namespace corral
