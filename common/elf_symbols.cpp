// Reading .dynsym by the section headers. Every offset and size comes from the file, so each is
// checked against the image before it is used: a truncated or hostile file gives an error, never
// a read out of bounds.
#include "common/elf_symbols.hpp"

#include <elf.h>

#include <cstring>

namespace corral {
namespace {

// Whether [offset, offset + size) lies within an image of `total` bytes, without overflowing.
bool within(std::uint64_t offset, std::uint64_t size, std::size_t total) {
    return offset <= total && size <= total - offset;
}

template <typename Record>
Record read_record(std::span<const std::byte> image, std::uint64_t offset) {
    Record record;
    std::memcpy(&record, image.data() + offset, sizeof record);
    return record;
}

}  // namespace

Result<std::vector<std::string>> defined_dynamic_symbols(std::span<const std::byte> image, std::string_view prefix) {
    if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0) {
        return Failure{"not an ELF file"};
    }
    const auto header = read_record<Elf64_Ehdr>(image, 0);
    const bool native_order = (header.e_ident[EI_DATA] == ELFDATA2LSB) == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || !native_order) {
        return Failure{"an ELF file for another kind of machine (not 64-bit in this machine's byte order)"};
    }
    if (header.e_type != ET_DYN) return Failure{"an ELF file that is not a shared object"};
    if (header.e_shentsize != sizeof(Elf64_Shdr) ||
        !within(header.e_shoff, std::uint64_t{header.e_shnum} * sizeof(Elf64_Shdr), image.size())) {
        return Failure{"a shared object whose section headers are missing or outside the file"};
    }
    auto section = [&](std::uint64_t index) { return read_record<Elf64_Shdr>(image, header.e_shoff +
        index * sizeof(Elf64_Shdr)); };
    for (std::uint64_t index = 0; index < header.e_shnum; ++index) {
        const Elf64_Shdr symbols = section(index);
        if (symbols.sh_type != SHT_DYNSYM) continue;
        if (symbols.sh_entsize != sizeof(Elf64_Sym) || !within(symbols.sh_offset, symbols.sh_size, image.size()) ||
            symbols.sh_link >= header.e_shnum) {
            return Failure{"a shared object whose dynamic symbol table is malformed"};
        }
        const Elf64_Shdr strings = section(symbols.sh_link);
        if (strings.sh_type != SHT_STRTAB || !within(strings.sh_offset, strings.sh_size, image.size())) {
            return Failure{"a shared object whose dynamic string table is malformed"};
        }
        const char* names = reinterpret_cast<const char*>(image.data() + strings.sh_offset);
        std::vector<std::string> found;
        for (std::uint64_t at = 0; at + sizeof(Elf64_Sym) <= symbols.sh_size; at += sizeof(Elf64_Sym)) {
            const auto symbol = read_record<Elf64_Sym>(image, symbols.sh_offset + at);
            if (symbol.st_shndx == SHN_UNDEF || symbol.st_name >= strings.sh_size) continue;
            const std::size_t room = strings.sh_size - symbol.st_name;
            const std::size_t length = strnlen(names + symbol.st_name, room);
            if (length == room) continue;  // not terminated inside the table
            const std::string_view name(names + symbol.st_name, length);
            if (name.starts_with(prefix)) found.emplace_back(name);
        }
        return found;
    }
    return Failure{"a shared object without a dynamic symbol table"};
}

}  // namespace corral
