#pragma once
// How the server turns one HTTP/1.1 request off the wire into a Request (router.hpp): the framing
// rule it enforces once the header is read and before any body byte is, and the conversion of
// Beast's parsed message. Apart from the server so the HTTP fuzz target
// (tests/fuzz/fuzz_http.cpp) drives the same code without sockets.
//
// Framing (RFC 9112 6.1, 6.3): the only transfer coding implemented is chunked, alone and once;
// a request with any other Transfer-Encoding, or with both Transfer-Encoding and
// Content-Length, has a body whose end this server cannot know: the server answers 400 and
// closes the connection, so nothing after the header is ever read as a second request.
//
// Thread-safety: pure functions.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "transport/http_types.hpp"

namespace dr::transport {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Why the header's framing is refused; nullopt when it is fine.
std::optional<std::string> framing_problem(const boost::beast::http::request_header<>& header);

// The Request of a parsed message: method, target split into path and decoded query, header
// fields in order, body. invalid_argument when the target is not an origin-form path or its
// query has a malformed %-escape. The caller sets Request::caller.
Result<Request> to_request(BeastRequest&& message);

}  // namespace dr::transport
