// Restore and teardown (workflow/restore.hpp) and inventory against the test driver, with the
// fixture DR site (site-b).
#include "workflow/restore.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "fault_hypervisor.hpp"
#include "model/json_io.hpp"
#include "virt/capture.hpp"
#include "virt/inventory.hpp"
#include "virt_test_support.hpp"

using namespace dr::virt;
using namespace dr::workflow;
using dr::Errc;
using dr::virt::testing::FaultHypervisor;
using dr::virt::testing::FaultMode;

namespace {

const std::string kSecond = "golden/app1.second.json";

RestoreReport restore(Hypervisor& hv, const std::shared_ptr<Hypervisor>& shared,
                      const dr::model::SecondDescription& second, const SiteConfig& config,
                      Journal& journal) {
  Steps steps(journal);
  return RestoreWorkflow(second, config, hv, share_one(shared)).run(steps);
}

RestoreReport restore(const std::shared_ptr<Hypervisor>& hv,
                      const dr::model::SecondDescription& second, const SiteConfig& config,
                      Journal& journal) {
  return restore(*hv, hv, second, config, journal);
}

std::string failure_of(const RestoreReport& r) {
  return r.failure ? r.failure->step + ": " + r.failure->error.message : "";
}

// The site after a clean restore of `second`, for comparison.
std::string clean_restore_picture(const dr::model::SecondDescription& second,
                                  const SiteConfig& config) {
  auto hv = testing::open_site("site-b");
  MemoryJournal journal;
  const auto report = restore(hv, second, config, journal);
  REQUIRE(report.ok());
  return testing::site_picture(*hv);
}

}  // namespace

TEST_CASE("restore of APP1 into the empty DR site runs every VM on its portgroup",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  MemoryJournal journal;
  const auto report = restore(hv, second, config, journal);
  INFO(failure_of(report));
  REQUIRE(report.ok());

  REQUIRE(report.vms.size() == 4);
  for (const auto& vm : report.vms) CHECK(vm.state == "running");
  CHECK(report.vms[0].nics[0] == ReportNic{"52:54:00:10:00:01", "vswitch0", "app1-web"});
  CHECK(report.vms[0].nics[1] == ReportNic{"52:54:00:10:00:02", "vswitch0", "app1-app"});
  REQUIRE(report.networks.size() == 3);
  CHECK(report.networks[2] == ReportNetwork{"vswitch0.app1-db", "vswitch0", "app1-db", 103});

  auto net = hv->get_network("vswitch0");
  REQUIRE(net);
  CHECK(net->portgroups.size() == 4);  // ops + the app's three
  auto db = hv->get_domain("app1-db1");
  REQUIRE(db);
  CHECK(db->uuid == "6f1c2a9e-0004-4c1e-9a0b-000000000004");
  CHECK(db->vcpus == 4);
  CHECK(db->memory_mib == 8192);
  REQUIRE(db->disks.size() == 2);
  CHECK(db->disks[1].image == "app1-db1-data");
  CHECK(db->disks[1].monitors == config.ceph.monitors);
  CHECK(db->disks[1].secret_uuid == config.ceph.secret_uuid);
  CHECK(db->disks[1].auth_user == "libvirt");
  CHECK(db->disks[1].config_file == config.ceph.client_conf);
  REQUIRE(db->membership);
  CHECK(db->membership->app_id == "app1");
  CHECK(db->membership->generation == 3);
  CHECK(db->membership->source_site == "site-a");
  CHECK(db->membership->boot_order == 1);

  const auto json = to_json(report);
  CHECK(json["app"] == "app1");
  CHECK(json["vms"][3]["nics"][0]["portgroup"] == "app1-db");
  CHECK(json["networks"][0]["vlan"] == 101);
  CHECK(json["steps"].size() == report.steps.size());
  CHECK_FALSE(json.contains("failed"));
}

TEST_CASE("restore starts VMs by boot order, one group at a time", "[integration][libvirt]") {
  auto real = testing::open_site("site-b");
  auto logged = std::make_shared<FaultHypervisor>(real);
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  MemoryJournal journal;
  const auto report = restore(logged, second, config, journal);
  REQUIRE(report.ok());
  std::vector<std::string> starts;
  for (const auto& line : logged->log()) {
    if (line.rfind("start_domain ", 0) == 0) starts.push_back(line.substr(13));
  }
  REQUIRE(starts.size() == 4);
  CHECK(starts[0] == "app1-db1");
  CHECK(starts[1] == "app1-app1");
  std::sort(starts.begin() + 2, starts.end());
  CHECK(starts[2] == "app1-web1");
  CHECK(starts[3] == "app1-web2");
  std::vector<std::string> names;
  for (const auto& s : report.steps) names.push_back(s.name);
  CHECK(std::find(names.begin(), names.end(), "start-group:1") <
        std::find(names.begin(), names.end(), "start-group:3"));
}

TEST_CASE("backup_domain gives a VM a serial log in consoleLogDir, and none without it",
          "[integration][libvirt]") {
  const auto second = testing::load_second(kSecond);
  std::map<std::string, NetworkBinding> bindings;
  for (const auto& n : second.networks) {
    bindings[n.id] = NetworkBinding{n.switch_name, n.portgroup, n.vlan, ""};
  }
  SiteConfig config = testing::load_config("site-b");
  REQUIRE_FALSE(config.console_log_dir);
  const auto& vm = second.vms.at(0);
  CHECK(backup_domain(second, vm, config, bindings).serial_log == std::nullopt);

  config.console_log_dir = "/var/log/drpair/console";
  const DomainDef def = backup_domain(second, vm, config, bindings);
  CHECK(def.serial_log == "/var/log/drpair/console/" + vm.name + ".log");
}

TEST_CASE("restore with consoleLogDir defines every VM with its serial log",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  SiteConfig config = testing::load_config("site-b");
  config.console_log_dir = "/var/log/drpair/console";
  const auto second = testing::load_second(kSecond);
  MemoryJournal journal;
  const auto report = restore(hv, second, config, journal);
  INFO(failure_of(report));
  REQUIRE(report.ok());
  for (const auto& vm : second.vms) {
    const auto def = hv->get_domain(vm.name);
    REQUIRE(def);
    CHECK(def->serial_log == "/var/log/drpair/console/" + vm.name + ".log");
  }
}

TEST_CASE("restore then capture at the DR site gives back the app", "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  auto second = testing::load_second(kSecond);
  // A disk on another bus than virtio, an image in an RBD namespace and a NIC of another model
  // come back as they were.
  second.vms[0].disks[0].bus = "sata";
  second.vms[3].disks[1].rbd_namespace = "app1";
  second.vms[0].nics[0].model = "e1000e";
  MemoryJournal journal;
  REQUIRE(restore(hv, second, config, journal).ok());

  const auto captured = capture(*hv, "app1", CaptureOptions{"site-b", "2026-11-25T00:00:00Z",
                                                             &config, {}});
  REQUIRE(captured);
  CHECK(captured->app.id == second.app.id);
  CHECK(captured->app.name == second.app.name);
  CHECK(captured->app.site == "site-b");
  CHECK(captured->app.generation == second.app.source_generation);
  REQUIRE(captured->networks.size() == second.networks.size());
  for (std::size_t i = 0; i < second.networks.size(); ++i) {
    const auto& b = second.networks[i];
    const auto& c = captured->networks[i];
    CHECK(c.id == b.id);
    CHECK(c.name == b.name);
    CHECK(c.switch_name == b.switch_name);
    CHECK(c.portgroup == b.portgroup);
    CHECK(c.vlan == b.vlan);
    CHECK(c.subnets == b.subnets);
  }
  REQUIRE(captured->vms.size() == second.vms.size());
  CHECK(second.vms[3].name == "app1-db1");
  auto db = hv->get_domain("app1-db1");
  REQUIRE(db);
  CHECK(db->disks[1].rbd_namespace == "app1");
  for (const auto& b : second.vms) {
    const auto c = std::find_if(captured->vms.begin(), captured->vms.end(),
                                [&](const auto& v) { return v.id == b.id; });
    REQUIRE(c != captured->vms.end());
    CHECK(c->name == b.name);
    CHECK(c->spec == b.spec);
    CHECK(c->boot_order == b.boot_order);
    REQUIRE(c->disks.size() == b.disks.size());
    for (std::size_t d = 0; d < b.disks.size(); ++d) {
      CHECK(c->disks[d].pool == b.disks[d].pool);
      CHECK(c->disks[d].rbd_namespace == b.disks[d].rbd_namespace);
      CHECK(c->disks[d].image == b.disks[d].image);
      CHECK(c->disks[d].target == b.disks[d].target);
      CHECK(c->disks[d].bus == b.disks[d].bus);
    }
    REQUIRE(c->nics.size() == b.nics.size());
    for (std::size_t n = 0; n < b.nics.size(); ++n) {
      CHECK(c->nics[n].mac == b.nics[n].mac);
      CHECK(c->nics[n].network == b.nics[n].network);
      CHECK(c->nics[n].ip == b.nics[n].ip);
      CHECK(c->nics[n].model == b.nics[n].model);
    }
  }
}

TEST_CASE("restore run twice converges: no duplicate networks, portgroups or domains",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  MemoryJournal journal;
  REQUIRE(restore(hv, second, config, journal).ok());
  const std::string after_first = testing::site_picture(*hv);
  SECTION("same journal: every step is skipped") {
    const auto again = restore(hv, second, config, journal);
    REQUIRE(again.ok());
    for (const auto& s : again.steps) CHECK(s.skipped);
  }
  SECTION("a new journal: every step checks the world and changes nothing") {
    MemoryJournal fresh;
    const auto again = restore(hv, second, config, fresh);
    INFO(failure_of(again));
    REQUIRE(again.ok());
  }
  CHECK(testing::site_picture(*hv) == after_first);
}

TEST_CASE("restore never overwrites a conflicting domain", "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  DomainDef other;
  other.name = "app1-web2";
  other.type = "test";
  other.memory_mib = 256;
  SECTION("same name, another UUID") {
    other.uuid = "0e0e0e0e-0000-4000-8000-000000000001";
  }
  SECTION("same name and UUID, another app") {
    other.uuid = "6f1c2a9e-0002-4c1e-9a0b-000000000002";
    other.membership = Membership{};
    other.membership->app_id = "app2";
  }
  SECTION("another name holding the UUID") {
    other.name = "squatter";
    other.uuid = "6f1c2a9e-0002-4c1e-9a0b-000000000002";
  }
  REQUIRE(hv->define_domain(other));
  const std::string before = testing::site_picture(*hv);
  MemoryJournal journal;
  const auto report = restore(hv, second, config, journal);
  REQUIRE(report.failure);
  CHECK(report.failure->step == "define-domain:app1-web2");
  CHECK(report.failure->error.code == Errc::already_exists);
  CHECK(report.failure->error.message.find("not overwritten") != std::string::npos);
  auto kept = hv->get_domain(other.name);
  REQUIRE(kept);
  CHECK(kept->uuid == other.uuid);
  CHECK(kept->membership == other.membership);
  CHECK_FALSE(report.ok());
  const auto json = to_json(report);
  CHECK(json["failed"]["step"] == "define-domain:app1-web2");
  CHECK(json["failed"]["code"] == "already_exists");
  (void)before;
}

TEST_CASE("restore refuses a portgroup that exists with another VLAN", "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  REQUIRE(hv->add_portgroup("vswitch0", {"app1-app", 555, false, {}}));
  MemoryJournal journal;
  const auto report = restore(hv, second, config, journal);
  REQUIRE(report.failure);
  CHECK(report.failure->step == "inspect-network:vswitch0.app1-app");
  CHECK(report.failure->error.code == Errc::already_exists);
  CHECK(report.failure->error.message.find("VLAN 555") != std::string::npos);
  auto net = hv->get_network("vswitch0");
  REQUIRE(net);
  for (const auto& pg : net->portgroups) {
    if (pg.name == "app1-app") CHECK(pg.vlan == 555);
  }
  auto domains = hv->list_domains();
  REQUIRE(domains);
  CHECK(domains->empty());
}

TEST_CASE("restore reuses a portgroup that exists with the right VLAN, and teardown keeps it",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  REQUIRE(hv->add_portgroup("vswitch0", {"app1-web", 101, false, {}}));
  const std::string before = testing::site_picture(*hv);
  MemoryJournal journal;
  REQUIRE(restore(hv, second, config, journal).ok());
  const auto removed = teardown(*hv, "app1", &journal);
  REQUIRE(removed);
  CHECK(removed->portgroups.size() == 2);
  CHECK(testing::site_picture(*hv) == before);
}

TEST_CASE("restore of a switch the site lacks: refused unless the config allows creating it",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second("golden/app1.second.policy.json");
  MemoryJournal journal;
  SECTION("not allowed") {
    const auto report = restore(hv, second, config, journal);
    REQUIRE(report.failure);
    CHECK(report.failure->error.code == Errc::failed_precondition);
    CHECK(report.failure->error.message.find("'dr-vswitch0'") != std::string::npos);
  }
  SECTION("allowed: created from the template, removed by teardown") {
    const std::string before = testing::site_picture(*hv);
    config.create_networks = true;
    config.network_templates.push_back({"*", SwitchKind::openvswitch, "br-{switch}"});
    const auto report = restore(hv, second, config, journal);
    INFO(failure_of(report));
    REQUIRE(report.ok());
    auto net = hv->get_network("dr-vswitch0");
    REQUIRE(net);
    CHECK(net->bridge == "br-dr-vswitch0");
    CHECK(net->virtualport == "openvswitch");
    CHECK(net->portgroups.size() == 2);
    auto other = hv->get_network("dr-vswitch1");
    REQUIRE(other);
    CHECK(other->portgroups.size() == 1);
    const auto removed = teardown(*hv, "app1");
    REQUIRE(removed);
    CHECK(removed->networks == std::vector<std::string>{"dr-vswitch0", "dr-vswitch1"});
    CHECK(testing::site_picture(*hv) == before);
  }
}

TEST_CASE("restore checks that each NIC's portgroup exists before defining",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  MemoryJournal journal;
  REQUIRE(restore(hv, second, config, journal).ok());
  // Someone removes a portgroup and a VM after the networks were ensured (journal: done).
  REQUIRE(hv->destroy_domain("app1-db1"));
  REQUIRE(hv->undefine_domain("app1-db1"));
  REQUIRE(hv->remove_portgroup("vswitch0", "app1-db"));
  // Drop the journal's later steps so define-domain runs again.
  MemoryJournal partial;
  auto entries = journal.entries();
  REQUIRE(entries);
  for (const auto& e : *entries) {
    if (e.name.rfind("define-domain", 0) == 0 || e.name.rfind("start-group", 0) == 0) continue;
    REQUIRE(partial.record_intent(e.name));
    REQUIRE(partial.record_done(e.name, e.detail));
  }
  const auto report = restore(hv, second, config, partial);
  REQUIRE(report.failure);
  CHECK(report.failure->error.code == Errc::not_found);
  CHECK(report.failure->error.message.find("portgroup 'app1-db'") != std::string::npos);
  CHECK(report.failure->step.rfind("define-domain:", 0) == 0);
}

TEST_CASE("shutdown_domain asks a running domain to stop; errors name the domain",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  MemoryJournal journal;
  REQUIRE(restore(hv, testing::load_second(kSecond), config, journal).ok());
  REQUIRE(hv->shutdown_domain("app1-web1"));
  // The test driver's guests obey at once.
  auto status = hv->domain_status("app1-web1");
  REQUIRE(status);
  CHECK(status->state == DomainState::shutoff);
  const auto again = hv->shutdown_domain("app1-web1");
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::failed_precondition);
  CHECK(again.error().message.find("app1-web1") != std::string::npos);
  const auto missing = hv->shutdown_domain("no-such-vm");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("a journal of another restore is refused", "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  auto second = testing::load_second(kSecond);
  MemoryJournal journal;
  REQUIRE(restore(hv, second, config, journal).ok());
  second.app.source_generation = 4;
  const auto report = restore(hv, second, config, journal);
  REQUIRE(report.failure);
  CHECK(report.failure->step == "begin");
  CHECK(report.failure->error.code == Errc::failed_precondition);
}

TEST_CASE("a restore cut off at any call resumes to the same end state",
          "[integration][libvirt]") {
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  const std::string expected = clean_restore_picture(second, config);
  long total = 0;
  {
    auto counted = std::make_shared<FaultHypervisor>(testing::open_site("site-b"));
    MemoryJournal journal;
    REQUIRE(restore(counted, second, config, journal).ok());
    total = counted->calls();
  }
  REQUIRE(total > 20);
  for (const FaultMode mode : {FaultMode::before, FaultMode::after}) {
    for (long k = 1; k <= total; ++k) {
      INFO("fault at call " << k << (mode == FaultMode::before ? " (before)" : " (after)"));
      auto real = testing::open_site("site-b");
      auto faulty = std::make_shared<FaultHypervisor>(real);
      faulty->fail_at(k, mode);
      MemoryJournal journal;
      const auto cut = restore(faulty, second, config, journal);
      // Read-back calls after the last step can fail without failing the restore.
      if (!cut.failure) {
        CHECK(testing::site_picture(*real) == expected);
        continue;
      }
      CHECK(cut.failure->error.code == Errc::unavailable);
      const auto resumed = restore(real, second, config, journal);
      INFO(failure_of(resumed));
      REQUIRE(resumed.ok());
      CHECK(testing::site_picture(*real) == expected);
    }
  }
}

namespace {

// A journal whose k-th write fails (the agent dies while recording a step's intent or result).
class FaultJournal final : public Journal {
 public:
  FaultJournal(Journal& inner, long fail_at) : inner_(inner), fail_at_(fail_at) {}
  long writes() const { return writes_; }
  dr::Result<std::optional<StepRecord>> find(std::string_view step) override {
    return inner_.find(step);
  }
  dr::Status record_intent(std::string_view step) override {
    if (++writes_ == fail_at_) return injected();
    return inner_.record_intent(step);
  }
  dr::Status record_done(std::string_view step, const nlohmann::json& detail) override {
    if (++writes_ == fail_at_) return injected();
    return inner_.record_done(step, detail);
  }
  dr::Status record_failed(std::string_view step, const dr::Error& error) override {
    if (++writes_ == fail_at_) return injected();
    return inner_.record_failed(step, error);
  }
  dr::Result<std::vector<StepRecord>> entries() override { return inner_.entries(); }

 private:
  static dr::Error injected() { return dr::fail(Errc::unavailable, "injected journal fault"); }
  Journal& inner_;
  long fail_at_;
  long writes_ = 0;
};

}  // namespace

TEST_CASE("a restore whose journal write fails at any point resumes to the same end state",
          "[integration][libvirt]") {
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  const std::string expected = clean_restore_picture(second, config);
  long total = 0;
  {
    auto hv = testing::open_site("site-b");
    MemoryJournal inner;
    FaultJournal counting(inner, 0);
    REQUIRE(restore(hv, second, config, counting).ok());
    total = counting.writes();
  }
  REQUIRE(total > 10);
  for (long k = 1; k <= total; ++k) {
    INFO("journal write " << k << " fails");
    auto hv = testing::open_site("site-b");
    MemoryJournal inner;
    FaultJournal faulty(inner, k);
    const auto cut = restore(hv, second, config, faulty);
    REQUIRE(cut.failure);
    CHECK(cut.failure->error.code == Errc::unavailable);
    const auto resumed = restore(hv, second, config, inner);
    INFO(failure_of(resumed));
    REQUIRE(resumed.ok());
    CHECK(testing::site_picture(*hv) == expected);
  }
}

TEST_CASE("teardown after a cut-off restore removes what it created", "[integration][libvirt]") {
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  for (long k : {3L, 6L, 9L, 14L, 20L}) {
    INFO("fault at call " << k);
    auto real = testing::open_site("site-b");
    const std::string before = testing::site_picture(*real);
    auto faulty = std::make_shared<FaultHypervisor>(real);
    faulty->fail_at(k, FaultMode::after);
    MemoryJournal journal;
    const auto cut = restore(faulty, second, config, journal);
    REQUIRE(cut.failure);
    const auto removed = teardown(*real, "app1", &journal);
    REQUIRE(removed);
    CHECK(testing::site_picture(*real) == before);
  }
}

TEST_CASE("teardown removes exactly what the restore created", "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  const std::string before = testing::site_picture(*hv);
  // A domain of another tenant on the "ops" portgroup, and one of app1 that no restore made.
  DomainDef ops;
  ops.name = "ops-jump";
  ops.uuid = "0e0e0e0e-0000-4000-8000-0000000000f1";
  ops.type = "test";
  ops.memory_mib = 256;
  ops.nics.push_back(NicDef{"52:54:00:90:00:01", NicKind::network, "vswitch0", "ops", "", "virtio",
                            std::nullopt, std::nullopt, std::nullopt});
  REQUIRE(hv->define_domain(ops));
  const std::string with_ops = testing::site_picture(*hv);
  MemoryJournal journal;
  REQUIRE(restore(hv, second, config, journal).ok());
  const auto removed = teardown(*hv, "app1", &journal);
  REQUIRE(removed);
  CHECK(removed->domains.size() == 4);
  CHECK(removed->portgroups.size() == 3);
  CHECK(removed->networks.empty());
  CHECK(testing::site_picture(*hv) == with_ops);
  // A second teardown finds nothing to do.
  const auto again = teardown(*hv, "app1");
  REQUIRE(again);
  CHECK(again->domains.empty());
  (void)before;
}

TEST_CASE("a file journal lets a second process resume", "[integration][libvirt]") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("drpair-journal-" + std::to_string(::getpid()) + ".json");
  std::filesystem::remove(path);
  auto real = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  const auto second = testing::load_second(kSecond);
  {
    auto journal = FileJournal::open(path.string());
    REQUIRE(journal);
    auto faulty = std::make_shared<FaultHypervisor>(real);
    faulty->fail_at(15, FaultMode::before);
    REQUIRE(restore(faulty, second, config, **journal).failure);
  }
  auto reopened = FileJournal::open(path.string());
  REQUIRE(reopened);
  auto entries = (*reopened)->entries();
  REQUIRE(entries);
  CHECK_FALSE(entries->empty());
  const auto resumed = restore(real, second, config, **reopened);
  REQUIRE(resumed.ok());
  CHECK(std::count_if(resumed.steps.begin(), resumed.steps.end(),
                      [](const StepTiming& s) { return s.skipped; }) > 0);
  std::filesystem::remove(path);
}

TEST_CASE("inventory of the DR site after a restore", "[integration][libvirt]") {
  auto hv = testing::open_site("site-b");
  const SiteConfig config = testing::load_config("site-b");
  MemoryJournal journal;
  REQUIRE(restore(hv, testing::load_second(kSecond), config, journal).ok());
  const auto inv = inventory(*hv, "site-b", &config);
  REQUIRE(inv);
  CHECK(inv->site == "site-b");
  REQUIRE(inv->switches.size() == 1);
  CHECK(inv->switches[0].name == "vswitch0");
  REQUIRE(inv->switches[0].portgroups.size() == 4);
  const auto& web = inv->switches[0].portgroups[1];
  CHECK(web.name == "app1-web");
  CHECK(web.vlan == 101);
  CHECK(web.subnets == std::vector<dr::model::Subnet>{{"192.168.10.0/24", "192.168.10.1"}});
  REQUIRE(inv->domains.size() == 4);
  for (const auto& d : inv->domains) CHECK(d.app == "app1");
  REQUIRE(inv->pools.size() == 1);
  CHECK(inv->pools[0].name == "rbd");
  CHECK(inv->pools[0].free_gib > 0);  // the test driver makes up its pools' sizes
  REQUIRE(inv->hosts.size() == 1);
  CHECK(inv->hosts[0].cpus > 0);
  CHECK(inv->hosts[0].allocated_vcpus == 12);
  // It is a valid drpair/v1 Inventory.
  CHECK(dr::model::parse_inventory(dr::model::to_text(dr::model::to_json(*inv))));
}
