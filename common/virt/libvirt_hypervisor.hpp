#pragma once
// The Hypervisor interface over a real libvirt connection (any driver: qemu:///system, a private
// daemon's socket, or the built-in test driver test:///ABS/PATH.xml). libvirt types stay in the
// .cpp. See virt/hypervisor.hpp for errors and thread-safety.

#include <memory>
#include <string>

#include "core/result.hpp"
#include "virt/hypervisor.hpp"

namespace dr::virt {

// Opens a connection to `uri`. unavailable if libvirt cannot be reached.
Result<std::unique_ptr<Hypervisor>> open_libvirt(const std::string& uri);

// True for the built-in test driver, where every connection is a private copy of the site.
bool is_test_driver(const std::string& uri);

// Connections for parallel work: a new connection per call to a daemon; `primary` itself for the
// test driver (a second connection would see a different site).
HypervisorFactory libvirt_factory(const std::string& uri, std::shared_ptr<Hypervisor> primary);

}  // namespace dr::virt
