#pragma once
// The MirrorStorage interface over one Ceph cluster, through librados/librbd (C API). Ceph types
// stay in the .cpp. See storage/mirror_storage.hpp for errors, ownership and thread-safety.

#include <memory>
#include <string>

#include "core/result.hpp"
#include "storage/mirror_storage.hpp"

namespace dr::storage {

// How to reach a site's cluster: its ceph.conf (mon_host, and the keyring for the client) and the
// cephx client id without the "client." prefix ("admin", "libvirt", "drpair").
struct CephSiteConfig {
  std::string conf_path;
  std::string client_id = "admin";
};

// Connects to the cluster. unavailable if the monitors do not answer within the conf's
// client_mount_timeout; permission_denied for a wrong key.
Result<std::unique_ptr<MirrorStorage>> open_rbd_mirror_storage(const CephSiteConfig& config);

}  // namespace dr::storage
