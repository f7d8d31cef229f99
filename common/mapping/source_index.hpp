#pragma once
// Lookups into a FirstDescription, shared by generate() and validate(): which source VM, network
// or disk an id names, and which source network a NIC sits on. One implementation, so that the
// generator places a NIC on exactly the network the validator expects to find it on.
// Internal to dr_mapping. Holds views into the description it was built from: that description
// must outlive the index and stay unchanged.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/descriptions.hpp"
#include "model/net_address.hpp"

namespace dr::mapping {

// Hashes a pair of views: (switch, portgroup) keys.
struct ViewPairHash {
  std::size_t operator()(const std::pair<std::string_view, std::string_view>& p) const noexcept {
    const std::size_t a = std::hash<std::string_view>{}(p.first);
    return a ^
           (std::hash<std::string_view>{}(p.second) + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  }
};

template <class V>
using ViewPairMap =
    std::unordered_map<std::pair<std::string_view, std::string_view>, V, ViewPairHash>;

template <class V>
using ViewMap = std::unordered_map<std::string_view, V>;

// Where a disk is: the index of its VM and its index in that VM's disks.
struct DiskRef {
  std::size_t vm;
  std::size_t disk;
};

class SourceIndex {
 public:
  explicit SourceIndex(const model::FirstDescription& first);

  // The index of the source VM / network with this id (the first one, if ids repeat).
  std::optional<std::size_t> vm(std::string_view id) const;
  std::optional<std::size_t> network(std::string_view id) const;
  // The source disk backed by this RBD image, named "POOL/[NAMESPACE/]IMAGE" (model::image_text;
  // the first one, if images repeat).
  std::optional<DiskRef> disk(const std::string& image) const;

  // The subnets of source network `network`, parsed; nullopt where a cidr does not parse.
  const std::vector<std::optional<model::Cidr>>& subnets(std::size_t network) const {
    return subnets_[network];
  }

  // The index of the subnet of `network` that holds `address`, if one does.
  std::optional<std::size_t> subnet_holding(std::size_t network, model::Ipv4 address) const;

  // The source networks whose subnets hold `address`: distinct, in document order.
  std::vector<std::size_t> networks_holding(model::Ipv4 address) const;

  // The source network a NIC sits on: the one it names (if the description has it), else the one
  // network whose subnet holds its address; nullopt when neither settles it.
  std::optional<std::size_t> nic_network(const model::SourceNic& nic) const;

 private:
  ViewMap<std::size_t> vms_;
  ViewMap<std::size_t> networks_;
  std::unordered_map<std::string, DiskRef> disks_;
  std::vector<std::vector<std::optional<model::Cidr>>> subnets_;
  // Address lookup: for each prefix length in use, masked network address -> networks. A handful
  // of hash lookups per address instead of a scan of every subnet of the app.
  std::vector<int> prefixes_;
  std::unordered_map<std::uint64_t, std::vector<std::size_t>> by_prefix_;
};

}  // namespace dr::mapping
