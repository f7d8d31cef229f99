#pragma once
// IPv4 addresses, CIDR subnets and MAC addresses as the drpair/v1 documents spell them.
// Pure value types: parsing never throws, it returns nullopt for anything malformed.
// drpair/v1 carries IPv4 only (see README, "Limits").

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dr::model {

class Ipv4 {
 public:
  // Dotted quad, four decimal octets 0..255 without leading zeros ("192.168.010.1" is rejected:
  // some tools read a leading zero as octal).
  static std::optional<Ipv4> parse(std::string_view text);
  constexpr explicit Ipv4(std::uint32_t value) noexcept : value_(value) {}
  constexpr std::uint32_t value() const noexcept { return value_; }
  std::string to_string() const;
  auto operator<=>(const Ipv4&) const = default;

 private:
  std::uint32_t value_;
};

class Cidr {
 public:
  // "a.b.c.d/len" with 0 <= len <= 32 and no host bits set ("192.168.10.5/24" is rejected).
  static std::optional<Cidr> parse(std::string_view text);
  // The reason parse() rejects `text`, for error messages ("host bits set: did you mean ...").
  static std::string why_invalid(std::string_view text);
  Cidr(Ipv4 network, int prefix) noexcept;
  Ipv4 network() const noexcept { return network_; }
  int prefix() const noexcept { return prefix_; }
  std::uint32_t mask() const noexcept;
  bool contains(Ipv4 address) const noexcept;
  bool overlaps(const Cidr& other) const noexcept;
  std::string to_string() const;
  auto operator<=>(const Cidr&) const = default;

 private:
  Ipv4 network_;
  int prefix_;
};

// `address` moved from subnet `from` into subnet `to`, keeping its host part (what a mapping
// policy's `ip: translate` does, and undoes on the way home); nullopt when the host part does not
// fit in `to` (a /24 host .200 in a /25).
std::optional<Ipv4> translate(Ipv4 address, const Cidr& from, const Cidr& to);

// "52:54:00:10:00:01": six colon-separated hex pairs, unicast (libvirt rejects multicast MACs).
// Canonical form is lower case; parse() accepts either case.
std::optional<std::string> canonical_mac(std::string_view text);

}  // namespace dr::model
