#include "workflow/app_records.hpp"

#include "model/json_io.hpp"

namespace dr::workflow {

Status update_app(state::StateStore& store, const std::string& app_id,
                  const std::function<void(state::AppRecord&)>& change) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto app = store.get_app(app_id);
    if (!app) return app.error();
    change(*app);
    auto r = store.upsert_app(*app);
    if (r) return {};
    if (r.error().code != Errc::aborted) return r.error();
  }
  return fail(Errc::aborted, "app '" + app_id + "' kept changing under concurrent updates");
}

Status set_app_state(state::StateStore& store, const std::string& app_id, state::AppState to,
                     const std::optional<Error>& error) {
  return update_app(store, app_id, [&](state::AppRecord& app) {
    app.state = to;
    app.last_error = error;
  });
}

std::vector<state::MirrorPairRecord> mirror_pairs_of(const model::SecondDescription& second) {
  std::vector<state::MirrorPairRecord> pairs;
  for (const auto& r : second.replication) {
    state::MirrorPairRecord p;
    p.source = stored(r.source);
    p.target = stored(r.target);
    p.mode = r.mode == model::ReplicationMode::journal ? state::MirrorMode::journal
                                                       : state::MirrorMode::snapshot;
    p.interval_minutes = r.interval_minutes;
    pairs.push_back(p);
  }
  return pairs;
}

namespace {

// The stored description of `kind` at `generation`, read with `parse`.
template <class Document, class Parse>
Result<Document> stored(state::StateStore& store, const std::string& app_id,
                        state::DescriptionKind kind, std::int64_t generation, Parse parse) {
  auto text = store.get_description(app_id, kind, generation);
  if (!text) return text.error();
  auto parsed = parse(text->json);
  if (!parsed) {
    return fail(Errc::internal, "the stored " + std::string(to_string(kind)) +
                                    " description of app '" + app_id + "' generation " +
                                    std::to_string(generation) +
                                    " is unreadable: " + model::format(parsed.error().front()));
  }
  return std::move(*parsed);
}

}  // namespace

Result<model::FirstDescription> stored_first(state::StateStore& store, const std::string& app_id,
                                             std::int64_t generation) {
  return stored<model::FirstDescription>(store, app_id, state::DescriptionKind::first, generation,
                                         [](const std::string& t) {
                                           return model::parse_first_description(t);
                                         });
}

Result<model::SecondDescription> stored_second(state::StateStore& store, const std::string& app_id,
                                               std::int64_t generation) {
  return stored<model::SecondDescription>(store, app_id, state::DescriptionKind::second,
                                          generation, [](const std::string& t) {
                                            return model::parse_second_description(t);
                                          });
}

state::MirrorPairRecord added_pair(const std::string& app_id, const storage::ImageSpec& image,
                                   const std::vector<state::MirrorPairRecord>& existing) {
  state::MirrorPairRecord pair;
  pair.app_id = app_id;
  pair.source = {image.pool, image.image};
  pair.target = pair.source;
  if (!existing.empty()) {
    pair.mode = existing.front().mode;
    pair.interval_minutes = existing.front().interval_minutes;
  }
  return pair;
}

Status owning(state::StateStore& store, const std::string& app_id, const Steps& steps,
              state::AppState during, state::AppState after, const std::function<Status()>& body) {
  if (auto s = set_app_state(store, app_id, during); !s) return s;
  auto outcome = body();
  if (!outcome) {
    if (outcome.error().code == Errc::aborted && steps.stop_requested()) return outcome.error();
    (void)set_app_state(store, app_id, state::AppState::failed, outcome.error());
    return outcome.error();
  }
  return set_app_state(store, app_id, after);
}

}  // namespace dr::workflow
