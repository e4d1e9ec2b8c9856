#include "worker/http_response.hpp"

#include <time.h>

namespace corral {

bool HttpDate::refresh() {
    timespec now{};
    // The coarse clock is read without a system call; a second's precision is all a Date needs.
    ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
    if (now.tv_sec == second_) return false;
    second_ = now.tv_sec;
    std::tm utc{};
    ::gmtime_r(&second_, &utc);
    std::strftime(text_, sizeof text_, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    return true;
}

std::string_view http_reason(int status) {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 410: return "Gone";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 417: return "Expectation Failed";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Status";
    }
}

PrebuiltResponse::PrebuiltResponse(int status, std::string_view content_type, std::string_view body,
                                   const std::vector<std::pair<std::string, std::string>>& extra_headers,
                                   Persistence persistence, std::string_view date)
    : status_(status) {
    bytes_ = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http_reason(status)) + "\r\nServer: corral\r\nDate: ";
    date_offset_ = bytes_.size();
    bytes_.append(date).append("\r\n");
    // 204 and 304 carry neither a body nor its length (RFC 9110 §8.6).
    if (status != 204 && status != 304) {
        bytes_.append("Content-Type: ").append(content_type).append("\r\n");
        bytes_.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    for (const auto& [name, value] : extra_headers) bytes_.append(name).append(": ").append(value).append("\r\n");
    if (persistence == Persistence::close) bytes_.append("Connection: close\r\n");
    if (persistence == Persistence::keep_alive_http10) bytes_.append("Connection: keep-alive\r\n");
    bytes_.append("\r\n");
    head_length_ = bytes_.size();
    bytes_.append(body);
}

}  // namespace corral
