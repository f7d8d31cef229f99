#pragma once
// The peer API as typed C++: one request and one answer type per peer route, their strict JSON
// readers and writers (the same code shapes an answer at the server and reads it at the client),
// and the two sides as interfaces the workflows are written against:
//
//   DrPeer           the DR agent, as the production agent calls it
//   ProductionPeer   the production agent, as the DR agent calls it
//
// | route (schemas/openapi.yaml)              | served by  | call                  | types                           |
// | GET    /v1/peer/inventory                 | DR         | DrPeer::inventory     | model::Inventory                |
// | POST   /v1/peer/pools/{pool}/bootstrap    | DR         | DrPeer::bootstrap     | BootstrapRequest -> PoolPeers   |
// | PUT    /v1/peer/apps/{app}                | DR         | DrPeer::register_app  | Registration -> Registered      |
// | GET    /v1/peer/apps/{app}                | DR         | DrPeer::app           | DrAppView                       |
// | DELETE /v1/peer/apps/{app}                | DR         | DrPeer::unregister    | -                               |
// | GET    /v1/peer/apps/{app}                | production | ProductionPeer::app   | ProductionAppView               |
// | POST   /v1/peer/apps/{app}/stop           | production | ProductionPeer::stop  | ProductionAppView               |
// | GET    /v1/peer/apps/{app}/images/{pool}/{image}          | production | ::image    | ImageEnd      |
// | POST   /v1/peer/apps/{app}/images/{pool}/{image}/snapshot | production | ::snapshot | ImageSnapshot |
// | POST   /v1/peer/apps/{app}/images/{pool}/{image}/demote   | production | ::demote   | ImageSnapshot |
// | POST   /v1/peer/apps/{app}/images/{pool}/{image}/promote  | production | ::promote  | ImageEnd      |
// | POST   /v1/peer/apps/{app}/release        | production | ProductionPeer::release | ProductionAppView             |
// | POST   /v1/peer/apps/{app}/images/{pool}/{image}/resync   | production | ::resync   | ImageEnd      |
// | POST   /v1/peer/apps/{app}/reverse        | production | ProductionPeer::reverse | ProductionAppView             |
// | POST   /v1/peer/apps/{app}/pairs          | production | ProductionPeer::pair    | PairImages -> ProductionAppView |
// | POST   /v1/peer/apps/{app}/start          | production | ProductionPeer::start   | StartRequest -> ProductionAppView |
//
// Implementations: the HTTPS client (api/http_peers.hpp) and, in tests, the other agent's
// workflow called in process. Errors are the peer's error answers as values (transport's table:
// 404 not_found, 409 failed_precondition, 503 unavailable, ...); an answer that does not read as
// its type is Errc::internal naming the route and the first problem (a peer speaking another
// version of drpair/v1 is a bug to fix, not a state to wait out).
//
// Readers are strict about what they need and accept unknown fields (a newer peer may add some).
// Thread-safety: the value types are plain values; implementations of the interfaces are safe
// to call from several threads at once.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "model/problem.hpp"
#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"

namespace dr::api {

// ---- the DR agent's routes

struct BootstrapRequest {
  std::string site;   // the production site's name
  std::string token;  // its RBD bootstrap token: a secret
  // The RBD namespaces of the pool that the app's images are in ("namespaces", absent when
  // none): each made and mirror-enabled at the DR site too, where rbd-mirror replicates into it.
  std::vector<std::string> namespaces;
};

struct PoolPeer {
  std::string site;
  std::string direction;  // "rx-tx", "rx-only"
};
struct PoolPeers {
  std::string pool;
  std::vector<PoolPeer> peers;
};

enum class RegistrationMode { first, second };
const char* to_string(RegistrationMode mode) noexcept;

// A description shipped for registration: mode first carries the first description (the DR agent
// maps it); mode second carries the second description the production agent mapped and the
// first it was mapped from (the DR agent validates it).
struct Registration {
  RegistrationMode mode = RegistrationMode::first;
  model::FirstDescription first;
  std::optional<model::SecondDescription> second;  // mode second
};

struct Registered {
  std::string app;
  state::AppState state = state::AppState::protecting;  // protecting or protected
  std::int64_t generation = 0;
  model::SecondDescription second;  // the one in force at the DR site
};

// One pair's DR image as the DR site sees it.
struct DrImageView {
  storage::ImageSpec target;
  std::optional<storage::ImageRole> role;  // nullopt: not there yet (rbd-mirror creates it)
  bool synced = false;                     // a complete mirror snapshot is there
  std::optional<std::int64_t> lag_seconds;
};
struct DrAppView {
  std::string app;
  state::AppState state = state::AppState::protecting;
  std::int64_t generation = 0;
  std::vector<DrImageView> images;
};

// ---- the production agent's routes

struct ProductionImageView {
  storage::ImageSpec image;
  storage::ImageRole role = storage::ImageRole::not_mirrored;
};
struct ProductionAppView {
  std::string app;
  state::AppState state = state::AppState::protected_;
  std::int64_t generation = 0;
  std::vector<ProductionImageView> images;
  int vms_running = 0;
  int primary_images() const;
};

// Planned failover, production side: the DR agent drives a role change per image
// (storage/role_change.hpp) whose `from` end is the production site's image, through these.
struct ImageEnd {
  storage::ImageSpec image;
  storage::PairSide side;  // role, the pool's mirror uuid, its mirror snapshots (oldest first)
};
struct ImageSnapshot {
  storage::ImageSpec image;
  storage::MirrorSnapshotRef snapshot;  // a mirror snapshot or a demotion, taken there
};

// Coming home: what changed in the app at the DR site while it ran there and comes home with a
// failback (StartRequest). A disk added to one of its VMs: a reprotect pairs its image
// (PairImages), the failback attaches it at the production site.
struct AddedDisk {
  std::string vm;
  storage::ImageSpec image;
  std::string target;  // "vdc"
  std::string bus = "virtio";
  bool operator==(const AddedDisk&) const = default;
};
// A NIC added to one of its VMs, on one of the app's networks: named by the production site's
// network id (its first description's), which the production site resolves to its own switch and
// portgroup; with the address its VM's drpair metadata declares for it, as it is at the production
// site (moved back into the source network's subnet where the mapping translated it).
struct AddedNic {
  std::string vm;
  std::string mac;      // canonical lower case
  std::string network;  // a SourceNetwork id
  std::string model = "virtio";
  std::optional<std::string> ip;  // IPv4, declared
  bool operator==(const AddedNic&) const = default;
};
// A VM added to the app: defined at the production site with this identity and size (its disks
// and NICs come as AddedDisk and AddedNic).
struct AddedVm {
  std::string name;
  std::string uuid;
  int vcpus = 1;
  std::int64_t memory_mib = 0;
  std::optional<int> boot_order;
  bool operator==(const AddedVm&) const = default;
};
struct PairImages {
  std::vector<storage::ImageSpec> images;
};
struct StartRequest {
  std::vector<AddedVm> added_vms;
  std::vector<AddedDisk> added_disks;
  std::vector<AddedNic> added_nics;
  bool empty() const { return added_vms.empty() && added_disks.empty() && added_nics.empty(); }
};

// ---- JSON: read_*() is strict (every problem with its pointer), to_json() the wire shape.
model::Parsed<BootstrapRequest> read_bootstrap_request(const nlohmann::json& doc);
nlohmann::json to_json(const BootstrapRequest& v);
model::Parsed<PoolPeers> read_pool_peers(const nlohmann::json& doc);
nlohmann::json to_json(const PoolPeers& v);
// Problems of the embedded documents are prefixed ("/description/vms/0/name").
model::Parsed<Registration> read_registration(const nlohmann::json& doc);
nlohmann::json to_json(const Registration& v);
model::Parsed<Registered> read_registered(const nlohmann::json& doc);
nlohmann::json to_json(const Registered& v);
model::Parsed<DrAppView> read_dr_app_view(const nlohmann::json& doc);
nlohmann::json to_json(const DrAppView& v);
model::Parsed<ProductionAppView> read_production_app_view(const nlohmann::json& doc);
nlohmann::json to_json(const ProductionAppView& v);
model::Parsed<ImageEnd> read_image_end(const nlohmann::json& doc);
nlohmann::json to_json(const ImageEnd& v);
model::Parsed<ImageSnapshot> read_image_snapshot(const nlohmann::json& doc);
nlohmann::json to_json(const ImageSnapshot& v);

model::Parsed<PairImages> read_pair_images(const nlohmann::json& doc);
nlohmann::json to_json(const PairImages& v);
// A missing body (null) is a request with nothing added.
model::Parsed<StartRequest> read_start_request(const nlohmann::json& doc);
nlohmann::json to_json(const StartRequest& v);

// "pool/image" <-> ImageSpec, as the peer API spells images.
std::string image_text(const storage::ImageSpec& image);

// ---- the two sides

class DrPeer {
 public:
  virtual ~DrPeer() = default;
  virtual Result<model::Inventory> inventory() = 0;
  virtual Result<PoolPeers> bootstrap(const std::string& pool, const BootstrapRequest& request) = 0;
  // invalid_argument with every problem when the description cannot be mapped or is not valid;
  // failed_precondition while the app is failing or failed over there.
  virtual Result<Registered> register_app(const std::string& app,
                                          const Registration& registration) = 0;
  virtual Result<DrAppView> app(const std::string& app) = 0;
  // not_found if the DR site does not know the app.
  virtual Status unregister(const std::string& app) = 0;
};

class ProductionPeer {
 public:
  virtual ~ProductionPeer() = default;
  // not_found if the production site does not hold the app.
  virtual Result<ProductionAppView> app(const std::string& app) = 0;
  // Shuts the app's VMs down (ACPI, then power off after its timeout) and takes the app out of
  // protection there (failing_over: no mirror snapshot schedule, no re-capture); idempotent.
  virtual Result<ProductionAppView> stop(const std::string& app) = 0;
  // One of the app's images; not_found if the image is not one of the app's.
  virtual Result<ImageEnd> image(const std::string& app, const storage::ImageSpec& image) = 0;
  // A role change's actions on one of the app's images, only while the app is stopped there
  // (failed_precondition otherwise): a mirror snapshot, a demotion, a planned promote (never a
  // forced one).
  virtual Result<ImageSnapshot> snapshot(const std::string& app,
                                         const storage::ImageSpec& image) = 0;
  virtual Result<ImageSnapshot> demote(const std::string& app, const storage::ImageSpec& image) = 0;
  virtual Result<ImageEnd> promote(const std::string& app, const storage::ImageSpec& image) = 0;
  // The failover is over for the production site: with every image non-primary and no VM running
  // there the app becomes failed_over; failed_precondition, naming what is left, otherwise.
  virtual Result<ProductionAppView> release(const std::string& app) = 0;

  // Reprotect (workflow/failback.hpp), while the app is failed over (failed_precondition
  // otherwise): one of its non-primary images there thrown away and copied again from the DR site
  // (its writes since its last replicated snapshot are lost: the caller decides that).
  virtual Result<ImageEnd> resync(const std::string& app, const storage::ImageSpec& image) = 0;
  // The app is the DR site's replica there now (protected_reverse): with every image non-primary
  // and no VM running; failed_precondition otherwise. Idempotent.
  virtual Result<ProductionAppView> reverse(const std::string& app) = 0;
  // Reprotect: images of disks added at the DR site join the app's pairs there (while it is
  // failed over or protected in reverse); each must be no other app's and not primary there
  // (a copy of the DR site's, or not there yet). Idempotent.
  virtual Result<ProductionAppView> pair(const std::string& app, const PairImages& request) = 0;
  // Failback's end: with every image of the app primary there, the VMs added at the DR site are
  // defined there, the disks and NICs added there attached to their domains, its VMs start in
  // boot order and the app is protected from there again (protected); failed_precondition while
  // an image is not primary there or the app is not protected_reverse (or protected already:
  // idempotent), or when an addition clashes with what is there (a target or MAC taken, a name
  // taken by a domain of no app of this site's); not_found for a network that is not the app's.
  virtual Result<ProductionAppView> start(const std::string& app, const StartRequest& request) = 0;
};

}  // namespace dr::api
