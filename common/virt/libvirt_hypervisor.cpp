#include "virt/libvirt_hypervisor.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <mutex>

#include "virt/libvirt_handles.hpp"
#include "virt/xml.hpp"

namespace dr::virt {
namespace {

void silent(void*, virErrorPtr) noexcept {}

void init_libvirt_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    virInitialize();
    // libvirt prints every error to stderr by default; we read virGetLastError() instead.
    virSetErrorFunc(nullptr, silent);
  });
}

Errc classify(int code) {
  switch (code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_NETWORK:
    case VIR_ERR_NO_STORAGE_POOL:
    case VIR_ERR_NO_STORAGE_VOL:
    case VIR_ERR_NO_SECRET:
    case VIR_ERR_NO_NETWORK_PORT:
      return Errc::not_found;
    case VIR_ERR_DOM_EXIST:
    case VIR_ERR_NETWORK_EXIST:
    case VIR_ERR_STORAGE_VOL_EXIST:
      return Errc::already_exists;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_XML_INVALID_SCHEMA:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_INVALID_MAC:
      return Errc::invalid_argument;
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
    case VIR_ERR_OPERATION_UNSUPPORTED:
      return Errc::failed_precondition;
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
    case VIR_ERR_AGENT_UNSYNCED:
    case VIR_ERR_RESOURCE_BUSY:
      return Errc::unavailable;
    default:
      return Errc::internal;
  }
}

// The error of the libvirt call that just failed on this thread, naming `what`.
Error last_error(const std::string& what) {
  const virErrorPtr err = virGetLastError();
  if (err == nullptr) return fail(Errc::internal, what + ": libvirt reported no error");
  Error e = fail(classify(err->code),
                 what + ": " + (err->message != nullptr ? err->message : "unknown libvirt error"),
                 err->code);
  virResetLastError();
  return e;
}

std::string dom_name(const std::string& name) { return "domain '" + name + "'"; }
std::string net_name(const std::string& name) { return "network '" + name + "'"; }

DomainState to_state(int state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING: return DomainState::running;
    case VIR_DOMAIN_PAUSED: return DomainState::paused;
    case VIR_DOMAIN_SHUTOFF: return DomainState::shutoff;
    default: return DomainState::other;
  }
}

class LibvirtHypervisor final : public Hypervisor {
 public:
  LibvirtHypervisor(ConnectHandle conn, std::string uri)
      : conn_(std::move(conn)), uri_(std::move(uri)) {}

  Result<std::vector<DomainStatus>> list_domains() override {
    std::vector<DomainStatus> out;
    auto listed = each_domain([&](virDomainPtr, DomainStatus status) -> Status {
      out.push_back(std::move(status));
      return {};
    });
    if (!listed) return listed.error();
    return out;
  }

  Result<std::vector<DomainMember>> list_members() override {
    std::vector<DomainMember> out;
    auto listed = each_domain([&](virDomainPtr dom, DomainStatus status) -> Status {
      auto membership = membership_of(dom, status.name);
      if (!membership) {
        // Unreadable metadata makes the domain nobody's; the app it names is told (capture).
        if (membership.error().code != Errc::invalid_argument) return membership.error();
        out.push_back({std::move(status), std::nullopt,
                       BrokenMembership{broken_app_id(dom), membership.error().message}});
        return {};
      }
      out.push_back({std::move(status), std::move(*membership), std::nullopt});
      return {};
    });
    if (!listed) return listed.error();
    return out;
  }

  Result<DomainStatus> domain_status(const std::string& name) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    return status_of(dom->get(), name);
  }

  Result<DomainDef> get_domain(const std::string& name, bool live) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    CString xml(virDomainGetXMLDesc(dom->get(), live ? 0 : VIR_DOMAIN_XML_INACTIVE));
    if (!xml) return last_error(dom_name(name) + ": get XML");
    auto def = parse_domain_xml(xml.get());
    if (!def) return fail(def.error().code, dom_name(name) + ": " + def.error().message);
    return def;
  }

  Result<DomainStatus> define_domain(const DomainDef& domain) override {
    const std::string xml = domain_xml(domain);
    DomainHandle dom(virDomainDefineXML(conn_.get(), xml.c_str()));
    if (!dom) return last_error(dom_name(domain.name) + ": define");
    return status_of(dom.get(), domain.name);
  }

  Status add_devices(const std::string& name, const std::vector<DiskDef>& disks,
                     const std::vector<NicDef>& nics) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    // The persistent XML as libvirt keeps it, so nothing drpair's model leaves out is lost.
    CString xml(virDomainGetXMLDesc(dom->get(), VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE));
    if (!xml) return last_error(dom_name(name) + ": read its definition");
    auto changed = with_devices(xml.get(), disks, nics);
    if (!changed) return changed.error();
    DomainHandle redefined(virDomainDefineXML(conn_.get(), changed->c_str()));
    if (!redefined) return last_error(dom_name(name) + ": add devices");
    return {};
  }

  Status set_membership(const std::string& name, const Membership& membership) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    const int active = virDomainIsActive(dom->get());
    if (active < 0) return last_error(dom_name(name) + ": set drpair metadata");
    unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
    if (active == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (virDomainSetMetadata(dom->get(), VIR_DOMAIN_METADATA_ELEMENT,
                             membership_xml(membership).c_str(), "drpair", kMetadataNamespace,
                             flags) < 0) {
      return last_error(dom_name(name) + ": set drpair metadata");
    }
    return {};
  }

  Status start_domain(const std::string& name) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    if (virDomainCreate(dom->get()) < 0) return last_error(dom_name(name) + ": start");
    return {};
  }

  Status shutdown_domain(const std::string& name) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    // Drivers disagree on how they refuse a guest that is not running (the test driver: an
    // internal error), so that case is answered here.
    if (virDomainIsActive(dom->get()) == 0) {
      return fail(Errc::failed_precondition, dom_name(name) + ": shutdown: it is not running");
    }
    if (virDomainShutdown(dom->get()) < 0) return last_error(dom_name(name) + ": shutdown");
    return {};
  }

  Status destroy_domain(const std::string& name) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    if (virDomainDestroy(dom->get()) < 0) return last_error(dom_name(name) + ": destroy");
    return {};
  }

  Status undefine_domain(const std::string& name) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    if (virDomainUndefine(dom->get()) < 0) {  // drpair defines no NVRAM or snapshots
      return last_error(dom_name(name) + ": undefine");
    }
    return {};
  }

  Result<std::vector<InterfaceAddress>> interface_addresses(const std::string& name) override {
    auto dom = lookup_domain(name);
    if (!dom) return dom.error();
    std::vector<InterfaceAddress> out;
    for (const unsigned source : {VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                                  VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT}) {
      virDomainInterfacePtr* ifaces = nullptr;
      const int n = virDomainInterfaceAddresses(dom->get(), &ifaces, source, 0);
      if (n < 0) {
        // No guest agent (or no lease support) only means this source knows nothing.
        const Error e = last_error(dom_name(name) + ": interface addresses");
        if (e.code == Errc::not_found) return e;
        continue;
      }
      for (int i = 0; i < n; ++i) {
        const virDomainInterfacePtr iface = ifaces[i];
        for (unsigned j = 0; j < iface->naddrs; ++j) {
          if (iface->addrs[j].type != VIR_IP_ADDR_TYPE_IPV4 || iface->hwaddr == nullptr) continue;
          InterfaceAddress a{iface->hwaddr, iface->addrs[j].addr};
          bool seen = false;
          for (const auto& o : out) seen = seen || (o.mac == a.mac && o.ip == a.ip);
          if (!seen) out.push_back(std::move(a));
        }
        virDomainInterfaceFree(iface);
      }
      free(ifaces);  // NOLINT: libvirt's array
    }
    return out;
  }

  Result<std::vector<NetworkDef>> list_networks() override {
    virNetworkPtr* nets = nullptr;
    const int n = virConnectListAllNetworks(conn_.get(), &nets, 0);
    if (n < 0) return last_error("list networks of " + uri_);
    std::vector<NetworkHandle> handles;
    for (int i = 0; i < n; ++i) handles.emplace_back(nets[i]);
    free(nets);  // NOLINT: libvirt's array
    std::vector<NetworkDef> out;
    for (const auto& h : handles) {
      auto def = read_network(h.get(), virNetworkGetName(h.get()));
      if (!def) {
        if (def.error().code == Errc::not_found) continue;
        return def.error();
      }
      out.push_back(std::move(*def));
    }
    return out;
  }

  Result<NetworkDef> get_network(const std::string& name) override {
    auto net = lookup_network(name);
    if (!net) return net.error();
    return read_network(net->get(), name);
  }

  Status create_network(const NetworkDef& network) override {
    const std::string xml = network_xml(network);
    NetworkHandle net(virNetworkDefineXML(conn_.get(), xml.c_str()));
    if (!net) return last_error(net_name(network.name) + ": define");
    if (virNetworkCreate(net.get()) < 0) {
      Error e = last_error(net_name(network.name) + ": start");
      virNetworkUndefine(net.get());  // leave nothing half-made behind
      virResetLastError();
      return e;
    }
    if (virNetworkSetAutostart(net.get(), 1) < 0) {
      return last_error(net_name(network.name) + ": set autostart");
    }
    return {};
  }

  Status remove_network(const std::string& name) override {
    auto net = lookup_network(name);
    if (!net) return net.error();
    if (virNetworkIsActive(net->get()) == 1 && virNetworkDestroy(net->get()) < 0) {
      return last_error(net_name(name) + ": stop");
    }
    if (virNetworkIsPersistent(net->get()) == 1 && virNetworkUndefine(net->get()) < 0) {
      return last_error(net_name(name) + ": undefine");
    }
    return {};
  }

  Status add_portgroup(const std::string& network, const PortgroupDef& portgroup) override {
    return update_portgroup(network, portgroup_xml(portgroup), VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                            "add portgroup '" + portgroup.name + "'");
  }

  Status remove_portgroup(const std::string& network, const std::string& portgroup) override {
    return update_portgroup(network, portgroup_xml(PortgroupDef{portgroup, std::nullopt, false, {}}),
                            VIR_NETWORK_UPDATE_COMMAND_DELETE,
                            "remove portgroup '" + portgroup + "'");
  }

  Result<HostCapacity> host_capacity() override {
    virNodeInfo info{};
    if (virNodeGetInfo(conn_.get(), &info) < 0) return last_error("host info of " + uri_);
    HostCapacity cap;
    cap.cpus = static_cast<int>(info.cpus);
    if (CString host{virConnectGetHostname(conn_.get())}) {
      cap.hostname = host.get();
    } else {
      virResetLastError();
    }
    cap.memory_mib = static_cast<std::int64_t>(info.memory / 1024);
    const unsigned long long free_bytes = virNodeGetFreeMemory(conn_.get());
    if (free_bytes == 0) {
      virResetLastError();  // not every driver knows; count all memory as free then
      cap.free_memory_mib = cap.memory_mib;
    } else {
      cap.free_memory_mib = static_cast<std::int64_t>(free_bytes / (1024 * 1024));
    }
    return cap;
  }

  Result<std::vector<StoragePoolInfo>> list_storage_pools() override {
    virStoragePoolPtr* pools = nullptr;
    const int n = virConnectListAllStoragePools(conn_.get(), &pools, 0);
    if (n < 0) return last_error("list storage pools of " + uri_);
    std::vector<PoolHandle> handles;
    for (int i = 0; i < n; ++i) handles.emplace_back(pools[i]);
    free(pools);  // NOLINT: libvirt's array
    std::vector<StoragePoolInfo> out;
    for (const auto& h : handles) {
      const std::string name = virStoragePoolGetName(h.get());
      CString xml(virStoragePoolGetXMLDesc(h.get(), 0));
      if (!xml) return last_error("storage pool '" + name + "': get XML");
      auto info = parse_pool_xml(xml.get());
      if (!info) return info.error();
      virStoragePoolInfo pi{};
      if (virStoragePoolGetInfo(h.get(), &pi) < 0) {
        return last_error("storage pool '" + name + "': info");
      }
      info->name = name;
      info->available_bytes = static_cast<std::int64_t>(pi.available);
      out.push_back(std::move(*info));
    }
    return out;
  }

  Result<std::optional<std::int64_t>> rbd_image_bytes(const std::string& ceph_pool,
                                                      const std::string& image) override {
    auto pools = list_storage_pools();
    if (!pools) return pools.error();
    for (const auto& p : *pools) {
      if (p.type != "rbd" || p.source_name != ceph_pool) continue;
      PoolHandle pool(virStoragePoolLookupByName(conn_.get(), p.name.c_str()));
      if (!pool) return last_error("storage pool '" + p.name + "'");
      VolumeHandle vol(virStorageVolLookupByName(pool.get(), image.c_str()));
      if (!vol) {
        const Error e = last_error("rbd image '" + ceph_pool + "/" + image + "'");
        if (e.code == Errc::not_found) continue;
        return e;
      }
      virStorageVolInfo info{};
      if (virStorageVolGetInfo(vol.get(), &info) < 0) {
        return last_error("rbd image '" + ceph_pool + "/" + image + "': info");
      }
      return std::optional<std::int64_t>(static_cast<std::int64_t>(info.capacity));
    }
    return std::optional<std::int64_t>();
  }

 private:
  Result<DomainHandle> lookup_domain(const std::string& name) {
    DomainHandle dom(virDomainLookupByName(conn_.get(), name.c_str()));
    if (!dom) return last_error(dom_name(name));
    return dom;
  }

  Result<NetworkHandle> lookup_network(const std::string& name) {
    NetworkHandle net(virNetworkLookupByName(conn_.get(), name.c_str()));
    if (!net) return last_error(net_name(name));
    return net;
  }

  // Calls f(handle, status) for every domain of the connection, on the handles the list gave.
  // A domain undefined by someone else meanwhile is skipped, not an error.
  template <class F>
  Status each_domain(F&& f) {
    virDomainPtr* doms = nullptr;
    const int n = virConnectListAllDomains(conn_.get(), &doms, 0);
    if (n < 0) return last_error("list domains of " + uri_);
    std::vector<DomainHandle> handles;
    handles.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) handles.emplace_back(doms[i]);
    free(doms);  // NOLINT: libvirt's array
    for (const auto& h : handles) {
      auto status = status_of(h.get(), virDomainGetName(h.get()));
      Status done = status ? f(h.get(), std::move(*status)) : Status(status.error());
      if (!done && done.error().code != Errc::not_found) return done.error();
    }
    return {};
  }

  // drpair's metadata element of the current definition (the live one while the domain runs);
  // nullopt when the domain has none.
  std::optional<std::string> broken_app_id(virDomainPtr dom) {
    CString xml(virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, kMetadataNamespace,
                                     VIR_DOMAIN_AFFECT_CURRENT));
    if (!xml) return std::nullopt;
    return membership_app_id(xml.get());
  }

  Result<std::optional<Membership>> membership_of(virDomainPtr dom, const std::string& name) {
    CString xml(virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, kMetadataNamespace,
                                     VIR_DOMAIN_AFFECT_CURRENT));
    if (!xml) {
      const virErrorPtr err = virGetLastError();
      if (err != nullptr && err->code == VIR_ERR_NO_DOMAIN_METADATA) {
        virResetLastError();
        return std::optional<Membership>();
      }
      return last_error(dom_name(name) + ": get drpair metadata");
    }
    auto m = parse_membership_xml(xml.get());
    if (!m) return fail(m.error().code, dom_name(name) + ": " + m.error().message);
    return std::optional<Membership>(std::move(*m));
  }

  Result<DomainStatus> status_of(virDomainPtr dom, const std::string& name) {
    int state = 0;
    int reason = 0;
    if (virDomainGetState(dom, &state, &reason, 0) < 0) return last_error(dom_name(name));
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (virDomainGetUUIDString(dom, uuid) < 0) return last_error(dom_name(name) + ": uuid");
    return DomainStatus{name, uuid, to_state(state)};
  }

  Result<NetworkDef> read_network(virNetworkPtr net, const std::string& name) {
    // The persistent definition holds portgroups added with AFFECT_CONFIG; the test driver only
    // has the one (live) definition and rejects the INACTIVE flag.
    const int persistent = virNetworkIsPersistent(net);
    const int active = virNetworkIsActive(net);
    if (persistent < 0 || active < 0) return last_error(net_name(name));
    CString xml(virNetworkGetXMLDesc(net, 0));
    if (!xml) return last_error(net_name(name) + ": get XML");
    auto def = parse_network_xml(xml.get());
    if (!def) return fail(def.error().code, net_name(name) + ": " + def.error().message);
    def->active = active == 1;
    return def;
  }

  Status update_portgroup(const std::string& network, const std::string& xml, unsigned command,
                          const std::string& what) {
    auto net = lookup_network(network);
    if (!net) return net.error();
    const int active = virNetworkIsActive(net->get());
    if (active < 0) return last_error(net_name(network));
    unsigned flags = VIR_NETWORK_UPDATE_AFFECT_CONFIG;
    if (active == 1) flags |= VIR_NETWORK_UPDATE_AFFECT_LIVE;
    // Argument order as virsh net-update passes it (command, then section).
    if (virNetworkUpdate(net->get(), command, VIR_NETWORK_SECTION_PORTGROUP, -1, xml.c_str(),
                         flags) < 0) {
      return last_error(net_name(network) + ": " + what);
    }
    return {};
  }

  ConnectHandle conn_;
  std::string uri_;
};

}  // namespace

bool is_test_driver(const std::string& uri) { return uri.rfind("test:", 0) == 0; }

Result<std::unique_ptr<Hypervisor>> open_libvirt(const std::string& uri) {
  init_libvirt_once();
  ConnectHandle conn(virConnectOpen(uri.c_str()));
  if (!conn) {
    Error e = last_error("libvirt '" + uri + "'");
    // Whatever the reason (no daemon, no socket, bad URI), the hypervisor is not reachable.
    if (e.code != Errc::invalid_argument) e.code = Errc::unavailable;
    return e;
  }
  return std::unique_ptr<Hypervisor>(std::make_unique<LibvirtHypervisor>(std::move(conn), uri));
}

HypervisorFactory libvirt_factory(const std::string& uri, std::shared_ptr<Hypervisor> primary) {
  if (is_test_driver(uri)) return share_one(std::move(primary));
  return [uri]() -> Result<std::shared_ptr<Hypervisor>> {
    auto h = open_libvirt(uri);
    if (!h) return h.error();
    return std::shared_ptr<Hypervisor>(std::move(*h));
  };
}

}  // namespace dr::virt
