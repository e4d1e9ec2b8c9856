// Where the request parsers' fuzz targets cut an input in two, as a read could have: the parser
// must give the same answer for the bytes in one piece and in two.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace corral::fuzz {

// Every cut of `bytes` among the first `first` bytes, after each of the first `line_breaks` CR
// or LF, within `margin` of each of `limits` (where a parser's size limit is crossed), and
// among the last four bytes. Bounded, so that long inputs stay cheap.
inline std::vector<std::size_t> split_points(std::string_view bytes, std::size_t first, std::size_t line_breaks,
                                             std::initializer_list<std::size_t> limits, std::size_t margin) {
    std::vector<std::size_t> points;
    for (std::size_t i = 1; i <= std::min(bytes.size(), first); ++i) points.push_back(i);
    std::size_t breaks_seen = 0;
    for (std::size_t i = 1; i < bytes.size() && breaks_seen < line_breaks; ++i) {
        if (bytes[i - 1] == '\r' || bytes[i - 1] == '\n') {
            points.push_back(i);
            ++breaks_seen;
        }
    }
    for (const std::size_t limit : limits) {
        for (std::size_t i = limit > margin ? limit - margin : 0; i <= limit + margin; ++i)
            if (i > 0 && i < bytes.size()) points.push_back(i);
    }
    for (std::size_t back = 1; back <= 4 && back < bytes.size(); ++back) points.push_back(bytes.size() - back);
    return points;
}

}  // namespace corral::fuzz
