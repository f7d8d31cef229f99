#pragma once
// The CLI's connection to one agent's operator API (/work/spec/api.md): where the agent is
// (https://HOST:PORT), the TLS files of mutual TLS and an optional bearer token, taken from the
// command line or else from the environment, turned into a transport::BeastPeerClient; and the
// agent's error answers turned back into what `drpair` prints.
//
// Defaults, in order: the flag (--url, --cacert, --cert, --key, --token); DRPAIR_URL,
// DRPAIR_CACERT, DRPAIR_CERT, DRPAIR_KEY, DRPAIR_TOKEN; and for the URL only, the agent the
// command is about: DRPAIR_PRODUCTION_URL or DRPAIR_DR_URL (the names the lab writes into its
// lab.env). An empty variable counts as unset.
//
// Ownership: an AgentClient owns its BeastPeerClient (one kept-alive connection).
// Thread-safety: one thread at a time (the CLI's main thread).

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "model/problem.hpp"
#include "transport/http_types.hpp"
#include "transport/peer_client.hpp"

namespace dr::cli {

// The connection options as given on the command line; "" = not given.
struct AgentConnection {
  std::string url, cacert, cert, key, token;
};

// Which agent a command talks to when neither --url nor DRPAIR_URL says.
enum class AgentRole { production, dr };

// https://HOST[:PORT][/PREFIX]; HOST may be a bracketed IPv6 address. PORT defaults to 443.
struct AgentUrl {
  std::string host;
  std::uint16_t port = 443;
  std::string prefix;  // "" or "/something", prepended to every request path
  std::string text;    // as given, for messages
};

// invalid_argument naming what is wrong (not https, no host, bad port).
Result<AgentUrl> parse_agent_url(std::string_view url);

// Why a call did not succeed.
struct AgentError {
  std::string code;     // the wire spelling: "not_found", "unauthenticated", "unavailable", ...
  std::string message;  // the agent's message, or what failed on the way to it
  model::Problems problems;  // from the error body, when the agent refused a document
  bool answered = false;     // true: the agent answered with an error; false: it was not reached
};

// Called by Result::value() when it holds an AgentError (a bug: callers test first).
[[noreturn]] void throw_exception_from_error(const AgentError& e, const boost::source_location&);

template <class T>
using AgentResult = Result<T, AgentError>;

// A 2xx answer.
struct AgentReply {
  int status = 200;
  std::string body;     // as received (what --json prints)
  nlohmann::json json;  // the body parsed; null when it is empty
};

class AgentClient {
 public:
  // Resolves the options (flags, then the environment), checks that the TLS files can be read,
  // and builds the client; does not connect yet. The error is a usage error (exit 2) and says
  // which option or variable to set.
  static Result<std::unique_ptr<AgentClient>> open(const AgentConnection& given, AgentRole role);

  // For tests and other callers that bring their own PeerClient.
  AgentClient(AgentUrl url, std::unique_ptr<transport::PeerClient> client);

  // One request; `path` is the API path ("/v1/apps"), already percent-encoded. A 2xx answer
  // whose body is not JSON is an "internal" error.
  AgentResult<AgentReply> call(transport::Method method, const std::string& path,
                               const std::optional<nlohmann::json>& body = std::nullopt);
  AgentResult<AgentReply> get(const std::string& path) {
    return call(transport::Method::get, path);
  }

  const AgentUrl& url() const { return url_; }

 private:
  AgentUrl url_;
  std::unique_ptr<transport::PeerClient> client_;
};

// Prints "drpair: CODE: MESSAGE" and one "POINTER: message" line per problem to `err`; returns
// kExitNo (an agent's "no" and an unreachable agent both exit 1).
int report(const AgentError& error, std::ostream& err);

// RFC 3986 percent-encoding of one path segment or query value (unreserved characters kept).
std::string percent_encode(std::string_view text);

}  // namespace dr::cli
