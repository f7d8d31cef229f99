#include "mapping/source_index.hpp"

#include <algorithm>

namespace dr::mapping {
namespace {

std::uint64_t prefix_key(int prefix, std::uint32_t network) {
  return (static_cast<std::uint64_t>(prefix) << 32) | network;
}

template <class Map>
auto find_value(const Map& map, const typename Map::key_type& key)
    -> std::optional<typename Map::mapped_type> {
  const auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

}  // namespace

SourceIndex::SourceIndex(const model::FirstDescription& first) {
  vms_.reserve(first.vms.size());
  disks_.reserve(first.vms.size() * 2);
  for (std::size_t i = 0; i < first.vms.size(); ++i) {
    const auto& vm = first.vms[i];
    vms_.emplace(vm.id, i);
    for (std::size_t k = 0; k < vm.disks.size(); ++k) {
      disks_.emplace(model::image_text(vm.disks[k]), DiskRef{i, k});
    }
  }
  networks_.reserve(first.networks.size());
  subnets_.reserve(first.networks.size());
  for (std::size_t n = 0; n < first.networks.size(); ++n) {
    networks_.emplace(first.networks[n].id, n);
    auto& parsed = subnets_.emplace_back();
    for (const auto& subnet : first.networks[n].subnets) {
      parsed.push_back(model::Cidr::parse(subnet.cidr));
      if (!parsed.back()) continue;
      const auto& cidr = *parsed.back();
      auto& holders = by_prefix_[prefix_key(cidr.prefix(), cidr.network().value())];
      if (holders.empty() || holders.back() != n) holders.push_back(n);
      if (std::find(prefixes_.begin(), prefixes_.end(), cidr.prefix()) == prefixes_.end()) {
        prefixes_.push_back(cidr.prefix());
      }
    }
  }
}

std::optional<std::size_t> SourceIndex::vm(std::string_view id) const {
  return find_value(vms_, id);
}

std::optional<std::size_t> SourceIndex::network(std::string_view id) const {
  return find_value(networks_, id);
}

std::optional<DiskRef> SourceIndex::disk(const std::string& image) const {
  return find_value(disks_, image);
}

std::optional<std::size_t> SourceIndex::subnet_holding(std::size_t network,
                                                       model::Ipv4 address) const {
  const auto& subnets = subnets_[network];
  for (std::size_t k = 0; k < subnets.size(); ++k) {
    if (subnets[k] && subnets[k]->contains(address)) return k;
  }
  return std::nullopt;
}

std::vector<std::size_t> SourceIndex::networks_holding(model::Ipv4 address) const {
  std::vector<std::size_t> out;
  for (const int prefix : prefixes_) {
    const model::Cidr probe(model::Ipv4(0), prefix);
    const auto it = by_prefix_.find(prefix_key(prefix, address.value() & probe.mask()));
    if (it == by_prefix_.end()) continue;
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<std::size_t> SourceIndex::nic_network(const model::SourceNic& nic) const {
  if (nic.network) return network(*nic.network);
  if (!nic.ip) return std::nullopt;
  const auto address = model::Ipv4::parse(*nic.ip);
  if (!address) return std::nullopt;
  const auto holders = networks_holding(*address);
  if (holders.size() != 1) return std::nullopt;
  return holders.front();
}

}  // namespace dr::mapping
