#pragma once
// Errors as values: every adapter and workflow returns Result<T> or Status and never throws across
// its interface. The error kind (Errc) tells the caller what to do next; the message names the
// object and says what went wrong.

#include <stdexcept>
#include <string>
#include <utility>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace dr {

// What the caller should do about a failure (vocabulary after absl::StatusCode).
enum class Errc {
  not_found,            // it is not there; do not retry
  already_exists,       // a conflicting object exists; do not overwrite it
  invalid_argument,     // the request is wrong; do not retry
  failed_precondition,  // wrong state (e.g. image still primary on the peer); fix state first
  aborted,              // lost a race (state version moved); restart the whole step
  unavailable,          // peer, cluster or hypervisor unreachable; retry this call
  deadline_exceeded,    // a bounded wait ran out
  permission_denied,    // e.g. peer certificate not authorised for this site
  internal,             // a bug or an answer the adapter did not expect
};

// The spelling used in logs, JSON error bodies and the CLI.
constexpr const char* to_string(Errc code) noexcept {
  switch (code) {
    case Errc::not_found: return "not_found";
    case Errc::already_exists: return "already_exists";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::failed_precondition: return "failed_precondition";
    case Errc::aborted: return "aborted";
    case Errc::unavailable: return "unavailable";
    case Errc::deadline_exceeded: return "deadline_exceeded";
    case Errc::permission_denied: return "permission_denied";
    case Errc::internal: return "internal";
  }
  return "internal";
}

struct Error {
  Errc code = Errc::internal;
  std::string message;  // names the object: "rbd image 'rbd/vm1-disk0': promote: ..."
  int native = 0;       // errno / virErrorNumber / sqlite rc: for logs, never for decisions
};

// boost::system::result (Boost 1.81) rather than tl::expected, which Debian 12 does not package.
// Use `if (!r)`, `*r`, `r->` and `r.error()`; `r.value()` on an error is a bug and throws.
template <class T, class E = Error>
using Result = boost::system::result<T, E>;
using Status = Result<void>;

inline Error fail(Errc code, std::string message, int native = 0) {
  return Error{code, std::move(message), native};
}

// Called by Result::value() when it holds an error (found by argument-dependent lookup).
// The same error with "<context>: " before its message.
inline Error with_context(const Error& e, const std::string& context) {
  return Error{e.code, context + ": " + e.message, e.native};
}

[[noreturn]] inline void throw_exception_from_error(const Error& e,
                                                    const boost::source_location&) {
  throw std::logic_error(std::string(to_string(e.code)) + ": " + e.message);
}

}  // namespace dr
