// Reading HTTP/1.1 requests (RFC 9112) for a service that only sends fixed responses: the request
// head, judged strictly so that no other party on the path can frame the same bytes differently,
// and the body, which is skipped. Nothing here allocates or copies: views point into the caller's
// buffer, and a client that never finishes costs no more than the limits allow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace corral::http {

struct HeadLimits {
    std::size_t max_request_line = 8192;  // bytes, CRLF included; beyond it: 414
    std::size_t max_head = 16384;  // bytes, the final CRLFCRLF included; beyond it: 431
    std::size_t max_headers = 100;  // field lines; one more: 431
};

enum class Method { get, head, other };  // "other" is valid syntax: the service answers 405

enum class BodyFraming { none, content_length, chunked };

struct RequestHead {
    Method method = Method::other;
    std::string_view method_text;
    // Origin-form path without the query ('?' and after), compared byte for byte: nothing is
    // percent-decoded. From an absolute-form target (`http://host/path`) its path, "/" when it
    // has none; "*" for `OPTIONS *`.
    std::string_view target;
    int minor_version = 1;  // 0 or 1: HTTP/1.0 or HTTP/1.1
    bool keep_alive = false;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"
    bool expect_continue = false;  // HTTP/1.1 with "Expect: 100-continue"
    BodyFraming body = BodyFraming::none;
    std::uint64_t content_length = 0;  // with BodyFraming::content_length
};

enum class HeadStatus { incomplete, complete, error };

struct HeadResult {
    HeadStatus status = HeadStatus::incomplete;
    // When complete: the bytes of the head, up to and including its final CRLFCRLF (and any empty
    // lines before the request line). The body or the next request starts there. Otherwise 0.
    std::size_t length = 0;
    // When error, what to answer before closing the connection:
    //   400 malformed or ambiguous, 414 request line too long, 431 head too large or too many
    //   fields, 505 a well-formed version other than HTTP/1.0 and HTTP/1.1, 417 an expectation
    //   other than 100-continue. Otherwise 0.
    int error_status = 0;
    RequestHead head;  // when complete
};

// Looks at everything received so far on a connection, from the start of a request. Call again
// from the start with more bytes while it says incomplete. O(n) in the bytes looked at, which are
// at most max_head.
//
// The verdict is a function of the bytes, not of how they arrived: an error is returned as soon as
// the bytes seen prove it (the first byte that breaks the syntax, the first byte past a limit), and
// once a prefix is complete or an error, every longer input gets the same result. Bytes after the
// head are not looked at.
HeadResult parse_request_head(std::string_view bytes, const HeadLimits& limits);

// Reads past a request body without keeping it: Content-Length bytes, or chunked coding with its
// extensions and trailer fields (checked, then ignored). Never allocates.
//
// max_body bounds the data; chunk extensions and trailer fields together may add at most
// kMaxChunkedMetadata bytes, and each chunk's other framing is at most 20 bytes (16 hex digits and
// two CRLFs) for at least one byte of data, so a chunked body is finite and bounded too.
class BodyDiscarder {
public:
    static constexpr std::uint64_t kMaxChunkedMetadata = 16384;
    static constexpr int kMaxChunkSizeDigits = 16;  // hex digits, leading zeros included

    BodyDiscarder(BodyFraming framing, std::uint64_t content_length, std::uint64_t max_body);

    struct Step {
        std::size_t consumed = 0;  // bytes of `bytes` that belong to the body; what follows does not
        bool done = false;  // the whole body has been read
        int error_status = 0;  // 400 malformed chunked coding, 413 over max_body or the metadata bound
    };

    // Takes the next bytes received. Once done or failed, takes nothing more and says so again. An
    // empty feed is allowed: right after the head it says whether the body is over before it starts
    // (no body, Content-Length: 0) or already too large (a Content-Length over max_body).
    Step feed(std::string_view bytes);

private:
    enum class State {
        content_length,
        chunk_size,  // hex digits
        chunk_size_end,  // after the digits: whitespace, then ';' or CR
        chunk_extension,  // up to CR
        chunk_size_lf,
        chunk_data,
        chunk_data_cr,
        chunk_data_lf,
        trailer_line_start,  // a field line or the final CRLF
        trailer_name,
        trailer_value,
        trailer_value_lf,
        final_lf,
        done,
        failed,
    };

    Step fail(std::size_t consumed, int status);
    bool count_metadata();
    // In a state that ends a line (after chunk data, a trailer field or the trailers), the one byte
    // it allows moves on to the next state; false for any other byte.
    bool take_line_end(char c);

    State state_;
    int error_status_ = 0;
    std::uint64_t remaining_ = 0;  // of the Content-Length, or of the current chunk's data
    std::uint64_t max_body_;
    std::uint64_t data_seen_ = 0;  // chunked: data bytes announced so far, the current chunk's included
    std::uint64_t metadata_seen_ = 0;
    int size_digits_ = 0;
    bool last_chunk_ = false;
};

}  // namespace corral::http
