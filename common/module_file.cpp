// The checks of a module file, on one descriptor opened without following a symlink, so that
// what is checked is what was opened.
#include "common/module_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <span>

#include "common/elf_symbols.hpp"
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

std::string unloadable_module_file(const std::string& path, const std::vector<uid_t>& trusted, Fd& opened) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        if (errno == ELOOP) return "it is a symbolic link; name the file itself";
        return std::string("cannot open it: ") + std::strerror(errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return std::string("cannot stat it: ") + std::strerror(errno);
    if (std::string why = untrusted_file(st, trusted); !why.empty()) return why;
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return "it is writable by its group or by others; only its owner may change code that corral runs";
    if (std::string why = untrusted_directory(path, trusted); !why.empty()) return why;
    if (static_cast<std::uint64_t>(st.st_size) > kMaxModuleBytes)
        return "it is larger than " + format_size(kMaxModuleBytes) + "; is it the right file?";
    if (st.st_size == 0) return "it is empty, not a shared object";

    const std::size_t size = static_cast<std::size_t>(st.st_size);
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapped == MAP_FAILED) return std::string("cannot read it: ") + std::strerror(errno);
    std::string error;
    const auto symbols = defined_dynamic_symbols(std::span(static_cast<const std::byte*>(mapped), size),
                                                 CORRAL_MODULE_SYMBOL_PREFIX, error);
    ::munmap(mapped, size);
    if (!symbols) return "it is " + error;
    const std::string wanted = CORRAL_MODULE_SYMBOL_PREFIX + std::to_string(CORRAL_MODULE_ABI_VERSION);
    for (const std::string& symbol : *symbols) {
        if (symbol != wanted) continue;
        opened = std::move(fd);
        return "";
    }
    const std::string found = versions_found(*symbols);
    if (found.empty())
        return "it defines no " + wanted + " symbol; is it a corral module (built with corral/module.h)?";
    return "it was built for module ABI version " + found + ", and this corral loads version " +
           std::to_string(CORRAL_MODULE_ABI_VERSION) + "; rebuild it against this corral's corral/module.h";
}

}  // namespace corral
