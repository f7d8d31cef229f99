#pragma once
// RAII owners of libvirt's C handles. Included only by the .cpp files of dr_virt_libvirt: libvirt
// types never leave that library.

#include <libvirt/libvirt.h>

#include <memory>

namespace dr::virt {

struct ConnectCloser {
  void operator()(virConnectPtr p) const noexcept { virConnectClose(p); }
};
struct DomainFreer {
  void operator()(virDomainPtr p) const noexcept { virDomainFree(p); }
};
struct NetworkFreer {
  void operator()(virNetworkPtr p) const noexcept { virNetworkFree(p); }
};
struct PoolFreer {
  void operator()(virStoragePoolPtr p) const noexcept { virStoragePoolFree(p); }
};
struct VolumeFreer {
  void operator()(virStorageVolPtr p) const noexcept { virStorageVolFree(p); }
};
// Strings libvirt returns are the caller's to free() (XML descriptions).
struct CFree {
  void operator()(char* p) const noexcept { free(p); }  // NOLINT: libvirt allocates with malloc
};

using ConnectHandle = std::unique_ptr<virConnect, ConnectCloser>;
using DomainHandle = std::unique_ptr<virDomain, DomainFreer>;
using NetworkHandle = std::unique_ptr<virNetwork, NetworkFreer>;
using PoolHandle = std::unique_ptr<virStoragePool, PoolFreer>;
using VolumeHandle = std::unique_ptr<virStorageVol, VolumeFreer>;
using CString = std::unique_ptr<char, CFree>;

}  // namespace dr::virt
