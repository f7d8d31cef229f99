#include "model/net_address.hpp"

#include <array>
#include <charconv>
#include <cstdio>

namespace dr::model {
namespace {

// Parses a decimal number in [0, max] without sign, spaces or leading zeros.
std::optional<std::uint32_t> parse_decimal(std::string_view text, std::uint32_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<Ipv4> Ipv4::parse(std::string_view text) {
  std::uint32_t value = 0;
  for (int octet = 0; octet < 4; ++octet) {
    const std::size_t dot = text.find('.');
    const bool last = octet == 3;
    if (last != (dot == std::string_view::npos)) return std::nullopt;
    const auto part = parse_decimal(text.substr(0, last ? text.size() : dot), 255);
    if (!part) return std::nullopt;
    value = (value << 8) | *part;
    if (!last) text.remove_prefix(dot + 1);
  }
  return Ipv4(value);
}

std::string Ipv4::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value_ >> 24, (value_ >> 16) & 0xff,
                (value_ >> 8) & 0xff, value_ & 0xff);
  return buf;
}

Cidr::Cidr(Ipv4 network, int prefix) noexcept : network_(network), prefix_(prefix) {}

std::uint32_t Cidr::mask() const noexcept {
  return prefix_ == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_);
}

bool Cidr::contains(Ipv4 address) const noexcept {
  return (address.value() & mask()) == network_.value();
}

std::optional<Ipv4> translate(Ipv4 address, const Cidr& from, const Cidr& to) {
  const std::uint32_t host = address.value() & ~from.mask();
  if ((host & to.mask()) != 0) return std::nullopt;
  return Ipv4(to.network().value() | host);
}

bool Cidr::overlaps(const Cidr& other) const noexcept {
  const std::uint32_t common = prefix_ < other.prefix_ ? mask() : other.mask();
  return (network_.value() & common) == (other.network_.value() & common);
}

std::string Cidr::to_string() const { return network_.to_string() + "/" + std::to_string(prefix_); }

std::string Cidr::why_invalid(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return "not a CIDR subnet (expected a.b.c.d/len)";
  const auto address = Ipv4::parse(text.substr(0, slash));
  if (!address) return "not a CIDR subnet: the address is not IPv4";
  const auto prefix = parse_decimal(text.substr(slash + 1), 32);
  if (!prefix) return "not a CIDR subnet: the prefix length must be 0..32";
  const Cidr aligned(Ipv4(address->value() & Cidr(Ipv4(0), static_cast<int>(*prefix)).mask()),
                     static_cast<int>(*prefix));
  if (aligned.network() != *address) {
    return "host bits set in a subnet: did you mean " + aligned.to_string() + "?";
  }
  return {};
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  if (!why_invalid(text).empty()) return std::nullopt;
  const std::size_t slash = text.find('/');
  return Cidr(*Ipv4::parse(text.substr(0, slash)),
              static_cast<int>(*parse_decimal(text.substr(slash + 1), 32)));
}

std::optional<std::string> canonical_mac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  std::string out(text);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i % 3 == 2) {
      if (out[i] != ':') return std::nullopt;
      continue;
    }
    const int digit = hex_digit(out[i]);
    if (digit < 0) return std::nullopt;
    out[i] = "0123456789abcdef"[digit];
  }
  if (hex_digit(out[1]) & 1) return std::nullopt;  // multicast bit of the first octet
  return out;
}

}  // namespace dr::model
