#include "virt/hypervisor.hpp"

namespace dr::virt {

const char* to_string(DomainState state) noexcept {
  switch (state) {
    case DomainState::shutoff: return "shutoff";
    case DomainState::running: return "running";
    case DomainState::paused: return "paused";
    case DomainState::other: return "other";
  }
  return "other";
}

HypervisorFactory share_one(std::shared_ptr<Hypervisor> shared) {
  return [shared = std::move(shared)]() -> Result<std::shared_ptr<Hypervisor>> { return shared; };
}

}  // namespace dr::virt
