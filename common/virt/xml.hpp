#pragma once
// libvirt domain and network XML <-> drpair's value types (virt/types.hpp). Pure functions: no
// connection, no I/O, unit-testable. Parsing reads what drpair needs and ignores the rest;
// generating writes a complete definition that starts cleanly on the QEMU driver (ACPI on, NIC
// option ROMs off: iPXE ROM loading otherwise dominates start time) and on the test driver.
//
// Errors: invalid_argument with what is wrong ("domain XML: <uuid> missing").
// Thread-safety: all functions may run concurrently (libxml2 parser contexts are per call).

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "virt/types.hpp"

namespace dr::virt {

Result<DomainDef> parse_domain_xml(std::string_view xml);
std::string domain_xml(const DomainDef& domain);
// One <disk> or <interface> element as domain_xml writes it.
std::string disk_xml(const DiskDef& disk);
std::string nic_xml(const NicDef& nic);
// The domain XML with `disks` and `nics` added at the end of its <devices>, everything else byte
// for byte (what drpair's model does not keep, e.g. a bridge NIC's <virtualport>, stays).
Result<std::string> with_devices(std::string_view domain, const std::vector<DiskDef>& disks,
                                 const std::vector<NicDef>& nics);

// drpair's membership element as virDomainGetMetadata returns it for kMetadataNamespace: <app>,
// without the namespace.
Result<Membership> parse_membership_xml(std::string_view xml);
// The app id such an element names, read even when the rest of it is broken.
std::optional<std::string> membership_app_id(std::string_view xml);
// The element as virDomainSetMetadata takes it: <app> and its children without the namespace
// (libvirt puts them in kMetadataNamespace).
std::string membership_xml(const Membership& membership);

Result<NetworkDef> parse_network_xml(std::string_view xml);
std::string network_xml(const NetworkDef& network);

// A <portgroup> element for virNetworkUpdate.
std::string portgroup_xml(const PortgroupDef& portgroup);

}  // namespace dr::virt

namespace dr::virt {
// The parts of a libvirt storage pool's XML that inventory and capture use (type, Ceph pool name);
// name and available bytes are filled in by the caller from libvirt's pool info.
Result<StoragePoolInfo> parse_pool_xml(std::string_view xml);
}  // namespace dr::virt
