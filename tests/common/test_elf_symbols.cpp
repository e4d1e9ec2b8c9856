// defined_dynamic_symbols: the symbols of a real shared object (the C library this test runs
// with), and errors, never reads out of bounds, for images that are cut short or damaged.
#include <doctest/doctest.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "common/elf_symbols.hpp"

using namespace corral;

namespace {

std::vector<std::byte> c_library_image() {
    Dl_info info{};
    REQUIRE(::dladdr(reinterpret_cast<void*>(&std::fopen), &info) != 0);
    std::ifstream file(info.dli_fname, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    REQUIRE(bytes.size() > 4096);
    std::vector<std::byte> image(bytes.size());
    std::transform(bytes.begin(), bytes.end(), image.begin(), [](char c) { return std::byte(c); });
    return image;
}

}  // namespace

TEST_CASE("the defined dynamic symbols of a shared object are found by prefix") {
    const std::vector<std::byte> image = c_library_image();
    const auto symbols = defined_dynamic_symbols(image, "fopen");
    REQUIRE_MESSAGE(symbols.ok(), symbols.error());
    CHECK(std::find(symbols->begin(), symbols->end(), "fopen") != symbols->end());
    CHECK(std::all_of(symbols->begin(), symbols->end(), [](const std::string& name) { return name.starts_with("fopen"); }));
    const auto none = defined_dynamic_symbols(image, "corral_module_v");
    REQUIRE(none.ok());
    CHECK(none->empty());
}

TEST_CASE("an image that is not a shared object, cut short or damaged gives an error, not a crash") {
    const std::vector<std::byte> text(100, std::byte('x'));
    const auto not_elf = defined_dynamic_symbols(text, "");
    REQUIRE_FALSE(not_elf.ok());
    CHECK(not_elf.error() == "not an ELF file");

    const std::vector<std::byte> image = c_library_image();
    // Every cut of the first 4 KiB, and cuts through the rest at a stride: each gives an error or
    // a list (under the sanitizers, without a read out of bounds); a cut inside the ELF header
    // is not ELF at all.
    std::size_t refused = 0;
    for (std::size_t length = 0; length < image.size(); length += length < 4096 ? 1 : 4093) {
        const auto symbols = defined_dynamic_symbols(std::span(image.data(), length), "f");
        if (length < 64) CHECK_FALSE(symbols);
        if (!symbols) ++refused;
    }
    CHECK(refused > 4096);
    // Section headers said to be beyond the end of the file (e_shoff's top byte set).
    std::vector<std::byte> damaged = image;
    damaged[0x2f] = std::byte{0x7f};
    const auto outside = defined_dynamic_symbols(damaged, "f");
    REQUIRE_FALSE(outside.ok());
    CHECK(outside.error() == "a shared object whose section headers are missing or outside the file");
    // Every other byte of e_shoff, e_shentsize and e_shnum damaged in turn.
    for (std::size_t at = 0x28; at < 0x40; ++at) {
        damaged = image;
        damaged[at] ^= std::byte{0xa5};
        const auto symbols = defined_dynamic_symbols(damaged, "f");
        CHECK((symbols.ok() || !symbols.error().empty()));
    }
}
