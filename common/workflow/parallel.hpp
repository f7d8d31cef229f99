#pragma once
// Bounded parallelism for a job's per-image work (promotes, demotes, snapshots): at most
// `workers` threads, for this call only, each taking the next item until none is left. A forced
// promote waits seconds on the lost peer whatever the image's size, so images go in parallel; an
// app with 300 disks still starts no more than `workers` threads (the job's configured pool
// size, e.g. failover.parallelism).
//
//   auto results = parallel_map(4, pairs, [&](const Pair& p) { return promote(p); });
//
// Results come back in the order of the items. `f` must be safe to call from several threads.
// first_error() picks the first failure of such results (items' order), if any.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/result.hpp"

namespace dr::workflow {

template <class Item, class F>
auto parallel_map(int workers, const std::vector<Item>& items, F f)
    -> std::vector<std::invoke_result_t<F&, const Item&>> {
  using R = std::invoke_result_t<F&, const Item&>;
  std::vector<std::optional<R>> slots(items.size());
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < items.size(); i = next++) slots[i].emplace(f(items[i]));
  };
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(std::max(workers, 1)),
                                              items.size());
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 1; t < n; ++t) threads.emplace_back(work);
    if (n > 0) work();  // the calling thread is one of the workers
  }
  std::vector<R> out;
  out.reserve(items.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

template <class T>
std::optional<Error> first_error(const std::vector<Result<T>>& results) {
  for (const auto& r : results) {
    if (!r) return r.error();
  }
  return std::nullopt;
}

}  // namespace dr::workflow
