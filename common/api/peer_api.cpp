#include "api/peer_api.hpp"

#include <nlohmann/json.hpp>

#include "model/json_io.hpp"
#include "model/json_reader.hpp"
#include "model/net_address.hpp"

namespace dr::api {
namespace {

using nlohmann::json;
using model::JsonReader;
using model::Parsed;
using model::Problems;

// Wire answers accept unknown keys (a newer peer may add some); requests are read the same way,
// as the documents they carry are.
constexpr auto kAccept = JsonReader::UnknownKeys::accept;

template <class T>
Parsed<T> done(JsonReader& r, T value) {
  if (!r.ok()) return std::move(r.problems);
  return value;
}

void add_prefixed(JsonReader& r, const Problems& problems, const std::string& prefix) {
  for (const auto& p : problems) r.add(prefix + p.pointer, p.message);
}

// "pool/image" at `at`.
storage::ImageSpec image_text_at(JsonReader& r, const std::string& text, const std::string& at) {
  auto image = storage::parse_image_spec(text);
  if (!image || text.find('@') != std::string::npos) {
    r.add(at, "expected 'pool/image' or 'pool/namespace/image', found '" + text + "'");
    return {};
  }
  return *image;
}

storage::ImageSpec image_spec(JsonReader& r, const json& obj, const std::string& ptr,
                              const char* key) {
  const auto text = r.opt_string(obj, ptr, key, true);
  if (!text) return {};
  return image_text_at(r, *text, model::pointer_append(ptr, key));
}

state::AppState app_state(JsonReader& r, const json& obj, const std::string& ptr) {
  const auto text = r.opt_string(obj, ptr, "state", true);
  if (!text) return state::AppState::unprotected;
  auto parsed = state::parse_app_state(*text);
  if (!parsed) {
    r.add(model::pointer_append(ptr, "state"), parsed.error().message);
    return state::AppState::unprotected;
  }
  return *parsed;
}

storage::ImageRole image_role(JsonReader& r, const json& obj, const std::string& ptr) {
  return r.enumeration(obj, ptr, "role",
                       {{"not_mirrored", storage::ImageRole::not_mirrored},
                        {"primary", storage::ImageRole::primary},
                        {"non_primary", storage::ImageRole::non_primary}},
                       storage::ImageRole::not_mirrored, true);
}

// The fields both sites' views of an app share: app, state, generation.
template <class View>
void read_app_fields(JsonReader& r, const json& doc, View& v) {
  v.app = r.string(doc, "", "app");
  v.state = app_state(r, doc, "");
  v.generation = r.integer(doc, "", "generation", 0, JsonReader::kMaxBig);
}

template <class View>
json app_fields_json(const View& v) {
  return {{"app", v.app}, {"state", state::to_string(v.state)}, {"generation", v.generation}};
}

}  // namespace

const char* to_string(RegistrationMode mode) noexcept {
  return mode == RegistrationMode::second ? "second" : "first";
}

std::string image_text(const storage::ImageSpec& image) { return storage::to_string(image); }

int ProductionAppView::primary_images() const {
  int n = 0;
  for (const auto& i : images) n += i.role == storage::ImageRole::primary;
  return n;
}

// ---- bootstrap

Parsed<BootstrapRequest> read_bootstrap_request(const json& doc) {
  JsonReader r;  // an operator-free peer request: a typo is refused
  BootstrapRequest v;
  if (r.object(doc, "", {"site", "token", "namespaces"})) {
    v.site = r.string(doc, "", "site");
    v.token = r.string(doc, "", "token");
    v.namespaces =
        r.array(doc, "", "namespaces", false, [&](const json& item, const std::string& p) {
          if (!item.is_string() || !model::is_rbd_name(item.get<std::string>())) {
            r.add(p, "expected an RBD namespace name (not empty, no '/' or '@')");
            return std::string();
          }
          return item.get<std::string>();
        });
  }
  return done(r, std::move(v));
}

json to_json(const BootstrapRequest& v) {
  json out{{"site", v.site}, {"token", v.token}};
  if (!v.namespaces.empty()) out["namespaces"] = v.namespaces;
  return out;
}

Parsed<PoolPeers> read_pool_peers(const json& doc) {
  JsonReader r(kAccept);
  PoolPeers v;
  if (r.object(doc, "", {})) {
    v.pool = r.string(doc, "", "pool");
    v.peers = r.array(doc, "", "peers", true, [&](const json& item, const std::string& p) {
      PoolPeer peer;
      if (!r.object(item, p, {})) return peer;
      peer.site = r.string(item, p, "site");
      peer.direction = r.string(item, p, "direction");
      return peer;
    });
  }
  return done(r, std::move(v));
}

json to_json(const PoolPeers& v) {
  json peers = json::array();
  for (const auto& p : v.peers) peers.push_back({{"site", p.site}, {"direction", p.direction}});
  return {{"pool", v.pool}, {"peers", std::move(peers)}};
}

// ---- registration

Parsed<Registration> read_registration(const json& doc) {
  JsonReader r;
  Registration v;
  if (!r.object(doc, "", {"mode", "description", "first"})) return std::move(r.problems);
  v.mode = r.enumeration(doc, "", "mode",
                         {{"first", RegistrationMode::first}, {"second", RegistrationMode::second}},
                         RegistrationMode::first, true);
  const json* description = r.member(doc, "", "description", true);
  if (!r.ok()) return std::move(r.problems);
  if (v.mode == RegistrationMode::first) {
    auto first = model::read_first_description(*description);
    if (first) v.first = std::move(*first);
    else add_prefixed(r, first.error(), "/description");
    return done(r, std::move(v));
  }
  auto second = model::read_second_description(*description);
  if (second) v.second = std::move(*second);
  else add_prefixed(r, second.error(), "/description");
  if (!doc.contains("first")) {
    r.add("", "mode second needs 'first': the first description the second was mapped from");
  } else if (auto first = model::read_first_description(doc["first"])) {
    v.first = std::move(*first);
  } else {
    add_prefixed(r, first.error(), "/first");
  }
  return done(r, std::move(v));
}

json to_json(const Registration& v) {
  json out{{"mode", to_string(v.mode)}};
  if (v.mode == RegistrationMode::second && v.second) {
    out["description"] = model::to_json(*v.second);
    out["first"] = model::to_json(v.first);
  } else {
    out["description"] = model::to_json(v.first);
  }
  return out;
}

Parsed<Registered> read_registered(const json& doc) {
  JsonReader r(kAccept);
  Registered v;
  if (!r.object(doc, "", {})) return std::move(r.problems);
  read_app_fields(r, doc, v);
  if (const json* second = r.member(doc, "", "second", true)) {
    auto parsed = model::read_second_description(*second);
    if (parsed) v.second = std::move(*parsed);
    else add_prefixed(r, parsed.error(), "/second");
  }
  return done(r, std::move(v));
}

json to_json(const Registered& v) {
  json out = app_fields_json(v);
  out["second"] = model::to_json(v.second);
  return out;
}

// ---- the DR site's view of an app

Parsed<DrAppView> read_dr_app_view(const json& doc) {
  JsonReader r(kAccept);
  DrAppView v;
  if (!r.object(doc, "", {})) return std::move(r.problems);
  read_app_fields(r, doc, v);
  v.images = r.array(doc, "", "images", true, [&](const json& item, const std::string& p) {
    DrImageView image;
    if (!r.object(item, p, {})) return image;
    image.target = image_spec(r, item, p, "target");
    if (const json* role = r.member(item, p, "role", true); role && !role->is_null()) {
      image.role = image_role(r, item, p);
    }
    image.synced = r.opt_boolean(item, p, "synced", true).value_or(false);
    if (const json* lag = r.member(item, p, "lagSeconds", false); lag && !lag->is_null()) {
      image.lag_seconds = r.opt_integer(item, p, "lagSeconds", 0, JsonReader::kMaxBig);
    }
    return image;
  });
  return done(r, std::move(v));
}

json to_json(const DrAppView& v) {
  json images = json::array();
  for (const auto& i : v.images) {
    images.push_back({{"target", image_text(i.target)},
                      {"role", i.role ? json(storage::to_string(*i.role)) : json(nullptr)},
                      {"synced", i.synced},
                      {"lagSeconds", i.lag_seconds ? json(*i.lag_seconds) : json(nullptr)}});
  }
  json out = app_fields_json(v);
  out["images"] = std::move(images);
  return out;
}

// ---- the production site's view of an app

Parsed<ProductionAppView> read_production_app_view(const json& doc) {
  JsonReader r(kAccept);
  ProductionAppView v;
  if (!r.object(doc, "", {})) return std::move(r.problems);
  read_app_fields(r, doc, v);
  v.images = r.array(doc, "", "images", true, [&](const json& item, const std::string& p) {
    ProductionImageView image;
    if (!r.object(item, p, {})) return image;
    image.image = image_spec(r, item, p, "image");
    image.role = image_role(r, item, p);
    return image;
  });
  v.vms_running = static_cast<int>(
      r.opt_integer(doc, "", "vmsRunning", 0, JsonReader::kMaxInt, true).value_or(0));
  return done(r, std::move(v));
}

json to_json(const ProductionAppView& v) {
  json images = json::array();
  for (const auto& i : v.images) {
    images.push_back({{"image", image_text(i.image)}, {"role", storage::to_string(i.role)}});
  }
  json out = app_fields_json(v);
  out["images"] = std::move(images);
  out["vmsRunning"] = v.vms_running;
  return out;
}

// ---- the production site's images, for a planned role change

namespace {

storage::MirrorSnapshotRef snapshot_ref(JsonReader& r, const json& obj, const std::string& ptr,
                                        const char* key) {
  storage::MirrorSnapshotRef ref;
  const json* snap = r.member(obj, ptr, key, true);
  const std::string at = model::pointer_append(ptr, key);
  if (snap != nullptr && r.object(*snap, at, {})) {
    ref.source_mirror_uuid = r.string(*snap, at, "mirrorUuid");
    ref.snap_id = static_cast<std::uint64_t>(r.integer(*snap, at, "snapId", 1, JsonReader::kMaxBig));
  }
  return ref;
}

storage::MirrorSnapshot mirror_snapshot(JsonReader& r, const json& item, const std::string& p) {
  using State = storage::MirrorSnapshotState;
  storage::MirrorSnapshot s;
  if (!r.object(item, p, {})) return s;
  s.id = static_cast<std::uint64_t>(r.integer(item, p, "id", 1, JsonReader::kMaxBig));
  s.state = r.enumeration(item, p, "state",
                          {{"primary", State::primary},
                           {"primary_demoted", State::primary_demoted},
                           {"non_primary", State::non_primary},
                           {"non_primary_demoted", State::non_primary_demoted}},
                          State::primary, true);
  s.complete = r.opt_boolean(item, p, "complete", true).value_or(false);
  if (auto ms = r.opt_integer(item, p, "createdUnixMs", 0, JsonReader::kMaxBig)) {
    s.created = storage::SystemTime(std::chrono::milliseconds(*ms));
  }
  if (!s.is_primary()) {
    s.primary_mirror_uuid = r.string(item, p, "primaryMirrorUuid");
    s.primary_snap_id =
        static_cast<std::uint64_t>(r.integer(item, p, "primarySnapId", 1, JsonReader::kMaxBig));
  }
  return s;
}

}  // namespace

Parsed<ImageEnd> read_image_end(const json& doc) {
  JsonReader r(kAccept);
  ImageEnd v;
  if (!r.object(doc, "", {})) return std::move(r.problems);
  v.image = image_spec(r, doc, "", "image");
  v.side.role = image_role(r, doc, "");
  v.side.mirror_uuid = r.opt_string(doc, "", "mirrorUuid", true).value_or("");
  v.side.snapshots = r.array(doc, "", "snapshots", true, [&](const json& item, const std::string& p) {
    return mirror_snapshot(r, item, p);
  });
  return done(r, std::move(v));
}

json to_json(const ImageEnd& v) {
  json snapshots = json::array();
  for (const auto& s : v.side.snapshots) {
    json one{{"id", s.id},
             {"state", storage::to_string(s.state)},
             {"complete", s.complete},
             {"createdUnixMs", std::chrono::duration_cast<std::chrono::milliseconds>(
                                   s.created.time_since_epoch())
                                   .count()}};
    if (!s.is_primary()) {
      one["primaryMirrorUuid"] = s.primary_mirror_uuid;
      one["primarySnapId"] = s.primary_snap_id;
    }
    snapshots.push_back(std::move(one));
  }
  return {{"image", image_text(v.image)},
          {"role", storage::to_string(v.side.role)},
          {"mirrorUuid", v.side.mirror_uuid},
          {"snapshots", std::move(snapshots)}};
}

Parsed<PairImages> read_pair_images(const json& doc) {
  JsonReader r;  // a peer request: a typo is refused
  PairImages v;
  if (r.object(doc, "", {"images"})) {
    v.images = r.array(doc, "", "images", true, [&](const json& item, const std::string& p) {
      if (!item.is_string()) {
        r.add(p, "expected 'pool/image'");
        return storage::ImageSpec{};
      }
      return image_text_at(r, item.get<std::string>(), p);
    });
  }
  return done(r, std::move(v));
}

json to_json(const PairImages& v) {
  json images = json::array();
  for (const auto& i : v.images) images.push_back(image_text(i));
  return {{"images", std::move(images)}};
}

Parsed<StartRequest> read_start_request(const json& doc) {
  StartRequest v;
  if (doc.is_null()) return v;
  JsonReader r;
  if (!r.object(doc, "", {"addedVms", "addedDisks", "addedNics"})) return std::move(r.problems);
  v.added_vms = r.array(doc, "", "addedVms", false, [&](const json& item, const std::string& p) {
    AddedVm vm;
    if (r.object(item, p, {"name", "uuid", "vcpus", "memoryMiB", "bootOrder"})) {
      vm.name = r.string(item, p, "name");
      vm.uuid = r.string(item, p, "uuid");
      vm.vcpus = static_cast<int>(r.integer(item, p, "vcpus", 1, 4096));
      vm.memory_mib = r.integer(item, p, "memoryMiB", 1, JsonReader::kMaxBig);
      if (auto order = r.opt_integer(item, p, "bootOrder", 0, JsonReader::kMaxInt)) {
        vm.boot_order = static_cast<int>(*order);
      }
    }
    return vm;
  });
  v.added_disks = r.array(doc, "", "addedDisks", false, [&](const json& item, const std::string& p) {
    AddedDisk d;
    if (r.object(item, p, {"vm", "image", "target", "bus"})) {
      d.vm = r.string(item, p, "vm");
      d.image = image_spec(r, item, p, "image");
      d.target = r.string(item, p, "target");
      d.bus = r.opt_string(item, p, "bus").value_or("virtio");
    }
    return d;
  });
  v.added_nics = r.array(doc, "", "addedNics", false, [&](const json& item, const std::string& p) {
    AddedNic n;
    if (r.object(item, p, {"vm", "mac", "network", "model", "ip"})) {
      n.vm = r.string(item, p, "vm");
      n.mac = r.string(item, p, "mac");
      if (auto canonical = model::canonical_mac(n.mac)) {
        n.mac = *canonical;
      } else if (!n.mac.empty()) {
        r.add(model::pointer_append(p, "mac"),
              "not a unicast MAC address (six hex pairs, e.g. 52:54:00:10:00:01): '" + n.mac + "'");
      }
      n.network = r.string(item, p, "network");
      n.model = r.opt_string(item, p, "model").value_or("virtio");
      n.ip = r.opt_string(item, p, "ip");
      if (n.ip && !model::Ipv4::parse(*n.ip)) {
        r.add(model::pointer_append(p, "ip"), "not an IPv4 address: '" + *n.ip + "'");
      }
    }
    return n;
  });
  return done(r, std::move(v));
}

json to_json(const StartRequest& v) {
  json vms = json::array();
  for (const auto& vm : v.added_vms) {
    json item{{"name", vm.name}, {"uuid", vm.uuid}, {"vcpus", vm.vcpus},
              {"memoryMiB", vm.memory_mib}};
    if (vm.boot_order) item["bootOrder"] = *vm.boot_order;
    vms.push_back(std::move(item));
  }
  json disks = json::array();
  for (const auto& d : v.added_disks) {
    disks.push_back({{"vm", d.vm}, {"image", image_text(d.image)}, {"target", d.target},
                     {"bus", d.bus}});
  }
  json nics = json::array();
  for (const auto& n : v.added_nics) {
    json item{{"vm", n.vm}, {"mac", n.mac}, {"network", n.network}, {"model", n.model}};
    if (n.ip) item["ip"] = *n.ip;
    nics.push_back(std::move(item));
  }
  return {{"addedVms", std::move(vms)}, {"addedDisks", std::move(disks)},
          {"addedNics", std::move(nics)}};
}

Parsed<ImageSnapshot> read_image_snapshot(const json& doc) {
  JsonReader r(kAccept);
  ImageSnapshot v;
  if (!r.object(doc, "", {})) return std::move(r.problems);
  v.image = image_spec(r, doc, "", "image");
  v.snapshot = snapshot_ref(r, doc, "", "snapshot");
  return done(r, std::move(v));
}

json to_json(const ImageSnapshot& v) {
  return {{"image", image_text(v.image)},
          {"snapshot",
           {{"mirrorUuid", v.snapshot.source_mirror_uuid}, {"snapId", v.snapshot.snap_id}}}};
}

}  // namespace dr::api
