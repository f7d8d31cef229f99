#include "site_commands.hpp"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "model/json_io.hpp"
#include "virt/capture.hpp"
#include "virt/inventory.hpp"
#include "virt/libvirt_hypervisor.hpp"
#include "virt/site_config.hpp"
#include "workflow/restore.hpp"

namespace dr::cli {
namespace {

using json = nlohmann::json;

struct SiteArgs {
  std::string uri, app, site, config, second, journal, captured_at, out = "-";
};

int report_error(const Error& e) {
  std::cerr << "drpair: " << to_string(e.code) << ": " << e.message << '\n';
  return kExitNo;
}

// Loads --config if given; false (after printing why) if it cannot be read.
bool load_config(const SiteArgs& args, std::optional<virt::SiteConfig>& out) {
  if (args.config.empty()) return true;
  auto text = read_input(args.config);
  if (!text) {
    std::cerr << "drpair: " << text.error().message << '\n';
    return false;
  }
  auto parsed = virt::parse_site_config(*text);
  if (!parsed) {
    print_problems(parsed.error(), std::cerr, args.config + ": ");
    return false;
  }
  out = std::move(*parsed);
  return true;
}

// Opens --libvirt; exit code 1 (printed) if libvirt cannot be reached.
std::shared_ptr<virt::Hypervisor> connect(const SiteArgs& args) {
  auto h = virt::open_libvirt(args.uri);
  if (!h) {
    report_error(h.error());
    return nullptr;
  }
  return std::shared_ptr<virt::Hypervisor>(std::move(*h));
}

// The site's name: --site, else the config's, else the libvirt host's name.
std::string site_name(const SiteArgs& args, const std::optional<virt::SiteConfig>& config,
                      virt::Hypervisor& hv) {
  if (!args.site.empty()) return args.site;
  if (config) return config->site;
  auto cap = hv.host_capacity();
  return cap && !cap->hostname.empty() ? cap->hostname : "site";
}

int run_capture(const SiteArgs& args) {
  std::optional<virt::SiteConfig> config;
  if (!load_config(args, config)) return kExitUsage;
  auto hv = connect(args);
  if (!hv) return kExitNo;
  virt::CaptureOptions options;
  options.site = site_name(args, config, *hv);
  if (!args.captured_at.empty()) options.captured_at = args.captured_at;
  options.config = config ? &*config : nullptr;
  options.warn = [](std::string_view w) { std::cerr << "drpair: warning: " << w << '\n'; };
  auto first = virt::capture(*hv, args.app, options);
  if (!first) return report_error(first.error());
  if (auto w = write_output(args.out, model::to_text(model::to_json(*first))); !w) {
    std::cerr << "drpair: " << w.error().message << '\n';
    return kExitUsage;
  }
  return kExitOk;
}

int run_restore(const SiteArgs& args) {
  std::optional<virt::SiteConfig> config;
  if (!load_config(args, config)) return kExitUsage;
  const auto second = load_document(args.second, model::parse_second_description, std::cerr);
  if (!second) return kExitUsage;
  std::unique_ptr<workflow::MemoryJournal> journal;
  if (args.journal.empty()) {
    journal = std::make_unique<workflow::MemoryJournal>();
  } else {
    auto opened = workflow::FileJournal::open(args.journal);
    if (!opened) {
      std::cerr << "drpair: " << opened.error().message << '\n';
      return kExitUsage;
    }
    journal = std::move(*opened);
  }
  if (!config) {
    config.emplace();
    config->site = second->app.site;
  }
  auto hv = connect(args);
  if (!hv) return kExitNo;
  workflow::Steps steps(*journal);
  const auto report =
      workflow::RestoreWorkflow(*second, *config, *hv, virt::libvirt_factory(args.uri, hv))
          .run(steps);
  std::cout << model::to_text(workflow::to_json(report));
  if (report.failure) {
    std::cerr << "drpair: restore failed at step '" << report.failure->step
              << "': " << to_string(report.failure->error.code) << ": "
              << report.failure->error.message << '\n';
  }
  return report.ok() ? kExitOk : kExitNo;
}

int run_teardown(const SiteArgs& args) {
  std::unique_ptr<workflow::FileJournal> journal;
  if (!args.journal.empty()) {
    auto opened = workflow::FileJournal::open(args.journal);
    if (!opened) {
      std::cerr << "drpair: " << opened.error().message << '\n';
      return kExitUsage;
    }
    journal = std::move(*opened);
  }
  auto hv = connect(args);
  if (!hv) return kExitNo;
  const auto removed = workflow::teardown(*hv, args.app, journal.get());
  if (!removed) return report_error(removed.error());
  // What the journal's restore made is gone: a later restore starts afresh.
  if (journal) {
    if (auto cleared = journal->clear(); !cleared) return report_error(cleared.error());
  }
  std::cout << model::to_text(json{{"app", args.app},
                                   {"domains", removed->domains},
                                   {"portgroups", removed->portgroups},
                                   {"networks", removed->networks},
                                   {"kept", removed->kept}});
  return kExitOk;
}

int run_inventory(const SiteArgs& args) {
  std::optional<virt::SiteConfig> config;
  if (!load_config(args, config)) return kExitUsage;
  auto hv = connect(args);
  if (!hv) return kExitNo;
  auto inv = virt::inventory(*hv, site_name(args, config, *hv), config ? &*config : nullptr);
  if (!inv) return report_error(inv.error());
  if (auto w = write_output(args.out, model::to_text(model::to_json(*inv))); !w) {
    std::cerr << "drpair: " << w.error().message << '\n';
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace

void add_site_commands(CLI::App& root, Action& action) {
  CLI::App* site = root.add_subcommand(
      "site", "The libvirt side of one site: capture, restore, teardown, inventory");
  site->require_subcommand(1);
  auto add = [&](const char* name, const char* help, int (*run)(const SiteArgs&)) {
    auto args = std::make_shared<SiteArgs>();
    CLI::App* cmd = site->add_subcommand(name, help);
    cmd->add_option("--libvirt", args->uri, "libvirt URI (qemu:///system, test:///ABS/site.xml)")
        ->required();
    cmd->callback([&action, args, run] { action = [args, run] { return run(*args); }; });
    return std::make_pair(cmd, args);
  };

  auto [capture, cap] =
      add("capture", "Print an app's FirstDescription, captured from libvirt", run_capture);
  capture->add_option("--app", cap->app, "App id (the drpair:app metadata's id)")->required();
  capture->add_option("--site", cap->site, "Site name (default: the config's, else the host's)");
  capture->add_option("--config", cap->config, "Site config (declared portgroup subnets)");
  capture->add_option("--captured-at", cap->captured_at,
                      "capturedAt to write (RFC 3339; default now), for reproducible output");
  capture->add_option("-o,--output", cap->out, "Write here instead of stdout");

  auto [restore, res] = add("restore",
                            "Restore a SecondDescription: networks, domains, start in boot "
                            "order; print a JSON report (exit 1 if any VM does not run)",
                            run_restore);
  restore->add_option("--second", res->second, "SecondDescription file (- for stdin)")->required();
  restore->add_option("--config", res->config, "Site config (Ceph access, domain type, ...)");
  restore->add_option("--journal", res->journal,
                      "Restore journal file: a rerun with the same file resumes a cut-off "
                      "restore");

  auto [teardown, tear] =
      add("teardown", "Remove what restores of an app created at this site", run_teardown);
  teardown->add_option("--app", tear->app, "App id")->required();
  teardown->add_option("--journal", tear->journal,
                       "The restore's journal file, for what a cut-off restore created");

  auto [inventory, inv] =
      add("inventory", "Print this site's Inventory (for map validate)", run_inventory);
  inventory->add_option("--site", inv->site, "Site name (default: the config's, else the host's)");
  inventory->add_option("--config", inv->config, "Site config (declared portgroup subnets)");
  inventory->add_option("-o,--output", inv->out, "Write here instead of stdout");
}

}  // namespace dr::cli
