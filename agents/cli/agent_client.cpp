#include "agent_client.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <ostream>
#include <stdexcept>

#include "command.hpp"
#include "model/json_reader.hpp"
#include "transport/beast_peer_client.hpp"

namespace dr::cli {
namespace {

// A setting and where it came from ("--cacert" or "DRPAIR_CACERT"), for messages.
struct Setting {
  std::string value;
  std::string source;
};

Setting resolve(const std::string& flag_value, const char* flag, const char* variable) {
  if (!flag_value.empty()) return {flag_value, flag};
  const char* env = std::getenv(variable);
  if (env != nullptr && *env != '\0') return {env, variable};
  return {};
}

// Usage error unless `s` names a readable file.
Status check_readable(const Setting& s, const char* flag, const char* variable, const char* what) {
  if (s.value.empty()) {
    return fail(Errc::invalid_argument,
                std::string("no ") + what + ": set " + flag + " or " + variable);
  }
  std::ifstream in(s.value, std::ios::binary);
  if (!in) {
    return fail(Errc::invalid_argument, "cannot read " + std::string(what) + " '" + s.value +
                                            "' (from " + s.source + "): " + std::strerror(errno));
  }
  return {};
}

// The error body's own code where the transport folded it into a coarser Errc: those codes
// have statuses of their own (error_mapping.hpp), so the status brings them back.
std::string wire_code(Errc code, int status) {
  switch (status) {
    case 401:
      return "unauthenticated";
    case 405:
      return "method_not_allowed";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    default:
      return to_string(code);
  }
}

// error_from_response() appends each problem of the body to the message as "; POINTER: text",
// and a pointer is "" or starts with '/'. Splits them back out.
void split_problems(std::string_view text, AgentError& out) {
  auto next = [&](std::size_t from) {
    for (std::size_t i = from; i + 2 < text.size(); ++i) {
      if (text.compare(i, 3, "; /") == 0 || text.compare(i, 3, "; :") == 0) return i;
    }
    return std::string_view::npos;
  };
  std::size_t at = next(0);
  out.message = std::string(text.substr(0, at));
  while (at != std::string_view::npos) {
    const std::size_t end = next(at + 2);
    const std::string_view item =
        text.substr(at + 2, end == std::string_view::npos ? std::string_view::npos : end - at - 2);
    const std::size_t colon = item.find(": ");
    if (colon == std::string_view::npos) {
      out.problems.push_back({std::string(item), ""});
    } else {
      out.problems.push_back(
          {std::string(item.substr(0, colon)), std::string(item.substr(colon + 2))});
    }
    at = end;
  }
}

}  // namespace

void throw_exception_from_error(const AgentError& e, const boost::source_location&) {
  throw std::logic_error(e.code + ": " + e.message);
}

Result<AgentUrl> parse_agent_url(std::string_view url) {
  AgentUrl out;
  out.text = std::string(url);
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return fail(Errc::invalid_argument,
                "agent URL '" + out.text + "' must start with https:// (https://HOST:PORT)");
  }
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    out.prefix = std::string(prefix);
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail(Errc::invalid_argument, "agent URL '" + out.text + "': unterminated '['");
    }
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return fail(Errc::invalid_argument, "agent URL '" + out.text + "': bad address");
      }
      port = after.substr(1);
      if (port.empty()) port = "-";  // "HOST:" is as wrong as a bad number
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) port = "-";
    }
  }
  if (out.host.empty() || out.host.find_first_of("@?#") != std::string::npos) {
    return fail(Errc::invalid_argument,
                "agent URL '" + out.text + "' has no usable host (https://HOST:PORT)");
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return fail(Errc::invalid_argument,
                  "agent URL '" + out.text + "': port must be a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

Result<std::unique_ptr<AgentClient>> AgentClient::open(const AgentConnection& given,
                                                       AgentRole role) {
  const char* role_variable =
      role == AgentRole::production ? "DRPAIR_PRODUCTION_URL" : "DRPAIR_DR_URL";
  Setting url = resolve(given.url, "--url", "DRPAIR_URL");
  if (url.value.empty()) url = resolve("", "", role_variable);
  if (url.value.empty()) {
    return fail(Errc::invalid_argument, std::string("no agent URL: set --url, DRPAIR_URL or ") +
                                            role_variable + " (https://HOST:PORT)");
  }
  auto parsed = parse_agent_url(url.value);
  if (!parsed) {
    auto e = parsed.error();
    e.message += " (from " + url.source + ")";
    return e;
  }

  const Setting cacert = resolve(given.cacert, "--cacert", "DRPAIR_CACERT");
  const Setting cert = resolve(given.cert, "--cert", "DRPAIR_CERT");
  const Setting key = resolve(given.key, "--key", "DRPAIR_KEY");
  const Setting token = resolve(given.token, "--token", "DRPAIR_TOKEN");
  if (auto s = check_readable(cacert, "--cacert", "DRPAIR_CACERT", "CA certificate file"); !s) {
    return s.error();
  }
  if (auto s = check_readable(cert, "--cert", "DRPAIR_CERT", "client certificate file"); !s) {
    return s.error();
  }
  if (auto s = check_readable(key, "--key", "DRPAIR_KEY", "client key file"); !s) {
    return s.error();
  }

  transport::ClientOptions options;
  options.host = parsed->host;
  options.port = parsed->port;
  options.tls.ca_file = cacert.value;
  options.tls.cert_file = cert.value;
  options.tls.key_file = key.value;
  if (!token.value.empty()) options.bearer_token = token.value;
  auto client = transport::BeastPeerClient::create(std::move(options));
  if (!client) return client.error();  // a file that is not PEM, a key that is not the cert's
  return std::make_unique<AgentClient>(std::move(*parsed), std::move(*client));
}

AgentClient::AgentClient(AgentUrl url, std::unique_ptr<transport::PeerClient> client)
    : url_(std::move(url)), client_(std::move(client)) {}

AgentResult<AgentReply> AgentClient::call(transport::Method method, const std::string& path,
                                          const std::optional<nlohmann::json>& body) {
  transport::ClientRequest request;
  request.method = method;
  request.target = url_.prefix + path;
  if (body) request.body = body->dump();
  auto response = client_->call(request);
  // BeastPeerClient prefixes its messages with the request ("GET /v1/apps: ") and, for an
  // answer, with the origin before that; both are dropped here and the URL said once instead.
  const std::string context =
      std::string(transport::to_string(method)) + " " + request.target + ": ";
  const std::string origin = "https://" + url_.host + ":" + std::to_string(url_.port);
  if (!response) {
    const Error& e = response.error();
    AgentError out;
    std::string_view message = e.message;
    const std::string answered_prefix = origin + " " + context;
    if (e.native >= 300 && e.native <= 599 && message.starts_with(answered_prefix)) {
      out.answered = true;
      out.code = wire_code(e.code, e.native);
      split_problems(message.substr(answered_prefix.size()), out);
      return out;
    }
    if (message.starts_with(context)) message.remove_prefix(context.size());
    if (message.starts_with(origin + ": ")) message.remove_prefix(origin.size() + 2);
    out.code = to_string(e.code);
    out.message = "cannot reach the agent at " + url_.text + ": " + std::string(message);
    return out;
  }
  AgentReply reply{response->status, std::move(response->body), {}};
  if (reply.body.empty()) return reply;
  auto parsed = model::parse_json(reply.body);
  if (parsed) reply.json = std::move(*parsed);
  if (!parsed) {
    return AgentError{
        "internal",
        "the agent at " + url_.text + " answered " + context + "with a body that is not JSON",
        {},
        true};
  }
  return reply;
}

int report(const AgentError& error, std::ostream& err) {
  err << "drpair: " << error.code << ": " << error.message << '\n';
  print_problems(error.problems, err);
  return kExitNo;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

}  // namespace dr::cli
