#include "map_commands.hpp"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"

namespace dr::cli {
namespace {

using nlohmann::json;

struct GenerateArgs {
  std::string first, policy, inventory, out = "-";
};

struct ValidateArgs {
  std::string first, second, inventory;
  bool as_json = false;
};

struct DiffArgs {
  std::string before, after;
  bool as_json = false;
};

// Loads the optional inventory: nullopt-of-nullopt means "failed" (exit 2).
bool load_inventory(const std::string& path, std::optional<model::Inventory>& out) {
  if (path.empty()) return true;
  out = load_document(path, model::parse_inventory, std::cerr);
  return out.has_value();
}

int run_generate(const GenerateArgs& args) {
  const auto first = load_document(args.first, model::parse_first_description, std::cerr);
  if (!first) return kExitUsage;
  model::MappingPolicy policy;
  if (!args.policy.empty()) {
    auto loaded = load_document(args.policy, model::parse_mapping_policy, std::cerr);
    if (!loaded) return kExitUsage;
    policy = std::move(*loaded);
  }
  std::optional<model::Inventory> inventory;
  if (!load_inventory(args.inventory, inventory)) return kExitUsage;

  auto second = mapping::generate(*first, policy, inventory ? &*inventory : nullptr);
  if (!second) {
    print_problems(second.error(), std::cerr);
    return kExitNo;
  }
  if (auto written = write_output(args.out, model::to_text(model::to_json(*second))); !written) {
    std::cerr << "drpair: " << written.error().message << '\n';
    return kExitUsage;
  }
  return kExitOk;
}

int run_validate(const ValidateArgs& args) {
  const auto first = load_document(args.first, model::parse_first_description, std::cerr);
  const auto second = load_document(args.second, model::parse_second_description, std::cerr);
  std::optional<model::Inventory> inventory;
  const bool inventory_ok = load_inventory(args.inventory, inventory);
  if (!first || !second || !inventory_ok) return kExitUsage;

  const auto problems = mapping::validate(*first, *second, inventory ? &*inventory : nullptr);
  if (args.as_json) {
    json report{{"valid", problems.empty()}, {"problems", json::array()}};
    for (const auto& p : problems) {
      report["problems"].push_back({{"pointer", p.pointer}, {"message", p.message}});
    }
    std::cout << model::to_text(report);
  } else {
    print_problems(problems, std::cout);
  }
  return problems.empty() ? kExitOk : kExitNo;
}

template <class Doc>
std::vector<mapping::Change> diff_as(const json& before, const json& after,
                                     model::Parsed<Doc> (*read)(const json&), bool& ok) {
  auto old_doc = read(before);
  auto new_doc = read(after);
  if (!old_doc) print_problems(old_doc.error(), std::cerr, "old: ");
  if (!new_doc) print_problems(new_doc.error(), std::cerr, "new: ");
  ok = old_doc && new_doc;
  return ok ? mapping::diff(*old_doc, *new_doc) : std::vector<mapping::Change>{};
}

int run_diff(const DiffArgs& args) {
  json docs[2];
  const std::string* paths[2] = {&args.before, &args.after};
  for (int i = 0; i < 2; ++i) {
    auto text = read_input(*paths[i]);
    if (!text) {
      std::cerr << "drpair: " << text.error().message << '\n';
      return kExitUsage;
    }
    docs[i] = json::parse(*text, nullptr, false);
    if (docs[i].is_discarded()) {
      std::cerr << *paths[i] << ": (document): malformed JSON\n";
      return kExitUsage;
    }
  }
  const std::string kind = model::document_kind(docs[0]);
  if (kind != model::document_kind(docs[1]) ||
      (kind != "FirstDescription" && kind != "SecondDescription")) {
    std::cerr << "drpair: map diff compares two FirstDescriptions or two SecondDescriptions; got '"
              << model::document_kind(docs[0]) << "' and '" << model::document_kind(docs[1])
              << "'\n";
    return kExitUsage;
  }
  bool ok = false;
  const auto changes = kind == "FirstDescription"
                           ? diff_as(docs[0], docs[1], model::read_first_description, ok)
                           : diff_as(docs[0], docs[1], model::read_second_description, ok);
  if (!ok) return kExitUsage;

  if (args.as_json) {
    json report{{"kind", kind}, {"changes", json::array()}};
    for (const auto& c : changes) {
      json j{{"change", mapping::to_string(c.kind)}, {"pointer", c.pointer}, {"what", c.what}};
      if (!c.detail.empty()) j["detail"] = c.detail;
      report["changes"].push_back(std::move(j));
    }
    std::cout << model::to_text(report);
  } else {
    for (const auto& c : changes) {
      const char mark = c.kind == mapping::Change::Kind::added     ? '+'
                        : c.kind == mapping::Change::Kind::removed ? '-'
                                                                   : '~';
      std::cout << mark << ' ' << c.pointer << ' ' << c.what << ' ' << mapping::to_string(c.kind)
                << (c.detail.empty() ? "" : ": " + c.detail) << '\n';
    }
  }
  return changes.empty() ? kExitOk : kExitNo;
}

}  // namespace

void add_map_commands(CLI::App& root, Action& action) {
  CLI::App* map = root.add_subcommand("map", "Offline mapping tools: generate, validate, diff");
  map->require_subcommand(1);

  auto generate = std::make_shared<GenerateArgs>();
  CLI::App* gen = map->add_subcommand(
      "generate", "Generate the second description (DR site) from a first description");
  gen->add_option("--first", generate->first, "FirstDescription file (- for stdin)")->required();
  gen->add_option("--policy", generate->policy, "MappingPolicy file");
  gen->add_option("--inventory", generate->inventory, "DR site Inventory file to validate against");
  gen->add_option("-o,--output", generate->out,
                  "Write the SecondDescription here (default stdout)");
  gen->callback([&action, generate] { action = [generate] { return run_generate(*generate); }; });

  auto validate = std::make_shared<ValidateArgs>();
  CLI::App* val = map->add_subcommand(
      "validate", "Check a second description against its first description (and a DR site)");
  val->add_option("--first", validate->first, "FirstDescription file")->required();
  val->add_option("--second", validate->second, "SecondDescription file")->required();
  val->add_option("--inventory", validate->inventory, "DR site Inventory file");
  val->add_flag("--json", validate->as_json, "Print a JSON report instead of lines");
  val->callback([&action, validate] { action = [validate] { return run_validate(*validate); }; });

  auto diff = std::make_shared<DiffArgs>();
  CLI::App* dif = map->add_subcommand(
      "diff", "What changed between two descriptions of one app (exit 1 when they differ)");
  dif->add_option("OLD", diff->before, "The older description")->required();
  dif->add_option("NEW", diff->after, "The newer description")->required();
  dif->add_flag("--json", diff->as_json, "Print a JSON report instead of lines");
  dif->callback([&action, diff] { action = [diff] { return run_diff(*diff); }; });
}

}  // namespace dr::cli
