#pragma once
// Shared helpers of the libvirt tests: fixture sites on the test driver, fixture documents, and a
// comparable picture of a whole site.

#include <memory>
#include <string>
#include <vector>

#include "model/descriptions.hpp"
#include "virt/hypervisor.hpp"
#include "virt/site_config.hpp"

namespace dr::virt::testing {

std::string fixture(const std::string& relative);  // DR_FIXTURES_DIR + "/" + relative
std::string slurp(const std::string& path);

// A fresh private copy of tests/fixtures/libvirt/<name>.xml on the test driver.
std::shared_ptr<Hypervisor> open_site(const std::string& name);
SiteConfig load_config(const std::string& name);  // tests/fixtures/libvirt/<name>.json
model::FirstDescription load_first(const std::string& relative);
model::SecondDescription load_second(const std::string& relative);

// Everything a restore or teardown can change, in a canonical text form (sorted), so two sites
// compare with == and a difference prints readably.
std::string site_picture(Hypervisor& hypervisor);

}  // namespace dr::virt::testing
