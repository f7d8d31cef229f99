#include "model/net_address.hpp"

#include <catch2/catch.hpp>

using dr::model::canonical_mac;
using dr::model::Cidr;
using dr::model::Ipv4;

TEST_CASE("IPv4 addresses parse as dotted quads and nothing else", "[unit][model]") {
  CHECK(Ipv4::parse("192.168.10.11")->to_string() == "192.168.10.11");
  CHECK(Ipv4::parse("0.0.0.0")->value() == 0u);
  CHECK(Ipv4::parse("255.255.255.255")->value() == 0xffffffffu);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "01.2.3.4", "1.2.3.4 ",
                          " 1.2.3.4", "1..2.3", "a.b.c.d", "1.2.3.4/24", "::1", "1.2.3.4."}) {
    INFO(bad);
    CHECK_FALSE(Ipv4::parse(bad));
  }
}

TEST_CASE("CIDR subnets reject host bits and say which network was meant", "[unit][model]") {
  const auto net = Cidr::parse("192.168.10.0/24");
  REQUIRE(net);
  CHECK(net->contains(*Ipv4::parse("192.168.10.255")));
  CHECK_FALSE(net->contains(*Ipv4::parse("192.168.11.0")));
  CHECK(Cidr::parse("0.0.0.0/0")->contains(*Ipv4::parse("8.8.8.8")));
  CHECK(Cidr::parse("10.0.0.1/32"));
  CHECK_FALSE(Cidr::parse("192.168.10.5/24"));
  CHECK(Cidr::why_invalid("192.168.10.5/24") ==
        "host bits set in a subnet: did you mean 192.168.10.0/24?");
  CHECK_FALSE(Cidr::parse("192.168.10.0/33"));
  CHECK_FALSE(Cidr::parse("192.168.10.0"));
  CHECK_FALSE(Cidr::parse("192.168.10.0/"));
  CHECK_FALSE(Cidr::parse("192.168.10.0/024"));
}

TEST_CASE("CIDR overlap is symmetric and catches nesting", "[unit][model]") {
  const auto a = *Cidr::parse("10.0.0.0/16");
  const auto b = *Cidr::parse("10.0.5.0/24");
  const auto c = *Cidr::parse("10.1.0.0/16");
  CHECK(a.overlaps(b));
  CHECK(b.overlaps(a));
  CHECK_FALSE(a.overlaps(c));
  CHECK(a.overlaps(a));
}

TEST_CASE("MAC addresses are canonicalised to lower case and must be unicast", "[unit][model]") {
  CHECK(canonical_mac("52:54:00:AB:cd:01") == "52:54:00:ab:cd:01");
  CHECK_FALSE(canonical_mac("01:00:5e:00:00:01"));  // multicast
  CHECK_FALSE(canonical_mac("52:54:00:10:00"));
  CHECK_FALSE(canonical_mac("52-54-00-10-00-01"));
  CHECK_FALSE(canonical_mac("52:54:00:10:00:0g"));
}
