#pragma once
// The one place where errors become HTTP and HTTP becomes errors again.
//
// Every failure either agent sends - a handler's dr::Error, a malformed request, an unknown
// route, a refused caller, an oversize body - is one JSON body (schemas/api/error.v1.schema.json):
//
//   {"error": {"code": "failed_precondition",
//              "message": "rbd image 'rbd/vm1-disk0' is still primary at site-a",
//              "problems": [{"pointer": "/vms/0/disks/0", "message": "..."}]}}   // optional
//
// `code` is a dr::Errc spelling (to_string(Errc)) or one of the transport's own codes below, and
// the HTTP status follows from the code through one table (error_mapping.cpp):
//
//   not_found 404            invalid_argument 400        already_exists 409
//   failed_precondition 409  aborted 409                 permission_denied 403
//   unavailable 503          deadline_exceeded 504       internal 500
//   unauthenticated 401      method_not_allowed 405      payload_too_large 413
//   unsupported_media_type 415  too_many_requests 429
//
// The transport's own codes map back to an Errc for callers that only understand Errc
// (unauthenticated -> permission_denied, too_many_requests -> unavailable, the others ->
// invalid_argument); a client turns an error
// response back into a dr::Error with error_from_response(), preferring the body's code to the
// status so failed_precondition and aborted (both 409) stay apart.
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "model/problem.hpp"
#include "transport/http_types.hpp"

namespace dr::transport {

// Codes of failures that happen before or around a handler, not inside one.
inline constexpr std::string_view kUnauthenticated = "unauthenticated";              // 401
inline constexpr std::string_view kMethodNotAllowed = "method_not_allowed";          // 405
inline constexpr std::string_view kPayloadTooLarge = "payload_too_large";            // 413
inline constexpr std::string_view kUnsupportedMediaType = "unsupported_media_type";  // 415
inline constexpr std::string_view kTooManyRequests = "too_many_requests";            // 429

int http_status(Errc code) noexcept;
// The status of a code from the table; 500 for a code the table does not know.
int http_status(std::string_view code) noexcept;

// What an error body's code, or failing that a bare status, means as an Errc: the table read
// backwards. Statuses outside the table: other 4xx -> invalid_argument, 502/503 -> unavailable,
// 408/504 -> deadline_exceeded, other 5xx -> internal.
Errc errc_from_code(std::string_view code, int status) noexcept;

// The error body.
nlohmann::json error_body(std::string_view code, std::string_view message,
                          const model::Problems& problems = {});

// An error response: status from the table, the error body. A code the table does not know is a
// bug in the caller and becomes "internal".
Response error_response(std::string_view code, std::string_view message,
                        const model::Problems& problems = {});
Response error_response(const Error& error);
// A document that failed to read: 400 invalid_argument carrying every problem.
Response error_response(const model::Problems& problems,
                        std::string_view message = "the request document is not valid");

// A non-2xx response as a dr::Error: code and message from its error body when it has one, else
// from its status ("HTTP 502: <first 200 bytes of the body>"). The message is prefixed with
// `context` ("GET /v1/apps/app1: ") when it is not empty.
Error error_from_response(const Response& response, std::string_view context = {});

}  // namespace dr::transport
