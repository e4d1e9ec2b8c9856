// The checks of a module file, on one descriptor opened without following a symlink, so that
// what is checked is what was opened.
#include "common/module_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <span>

#include "common/elf_symbols.hpp"
#include "common/errno_text.hpp"
#include "common/fd.hpp"
#include "common/trusted_path.hpp"
#include "common/units.hpp"
#include "corral/module.h"

namespace corral {
namespace {

// Far above any protocol module; a file this large is the wrong file.
constexpr std::size_t kMaxModuleBytes = 256u << 20;

std::string versions_found(const std::vector<std::string>& symbols) {
    std::string versions;
    const std::string_view prefix = CORRAL_MODULE_SYMBOL_PREFIX;
    for (const std::string& symbol : symbols) {
        unsigned version = 0;
        const char* first = symbol.data() + prefix.size();
        const char* last = symbol.data() + symbol.size();
        const auto [end, error] = std::from_chars(first, last, version);
        if (error != std::errc{} || end != last) continue;
        versions += (versions.empty() ? "" : " and ") + std::to_string(version);
    }
    return versions;
}

}  // namespace

Result<Fd> open_module_file(const std::string& path, const std::vector<uid_t>& trusted) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        if (errno == ELOOP) return Failure{"it is a symbolic link; name the file itself"};
        return Failure{"cannot open it: " + errno_text()};
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Failure{"cannot stat it: " + errno_text()};
    if (Outcome file = check_opened_file(st, trusted); !file) return Failure{file.error()};
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return Failure{"it is writable by its group or by others; only its owner may change code that corral runs"};
    if (Outcome directories = check_directories(path, trusted); !directories) return Failure{directories.error()};
    if (static_cast<std::uint64_t>(st.st_size) > kMaxModuleBytes)
        return Failure{"it is larger than " + format_size(kMaxModuleBytes) + "; is it the right file?"};
    if (st.st_size == 0) return Failure{"it is empty, not a shared object"};

    const std::size_t size = static_cast<std::size_t>(st.st_size);
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapped == MAP_FAILED) return Failure{"cannot read it: " + errno_text()};
    const auto symbols =
        defined_dynamic_symbols(std::span(static_cast<const std::byte*>(mapped), size), CORRAL_MODULE_SYMBOL_PREFIX);
    ::munmap(mapped, size);
    if (!symbols) return Failure{"it is " + symbols.error()};
    const std::string wanted = CORRAL_MODULE_SYMBOL_PREFIX + std::to_string(CORRAL_MODULE_ABI_VERSION);
    if (std::find(symbols->begin(), symbols->end(), wanted) != symbols->end()) return fd;
    const std::string found = versions_found(*symbols);
    if (found.empty())
        return Failure{"it defines no " + wanted + " symbol; is it a corral module (built with corral/module.h)?"};
    return Failure{"it was built for module ABI version " + found + ", and this corral loads version " +
                   std::to_string(CORRAL_MODULE_ABI_VERSION) + "; rebuild it against this corral's corral/module.h"};
}

}  // namespace corral
