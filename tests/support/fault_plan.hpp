#pragma once
// FaultPlan: one count of calls shared by every fault-injecting wrapper of a test (the hypervisor,
// each site's mirror storage, the peers), so a sweep can cut a workflow at call k of all it does,
// wherever that call goes. The k-th call fails either before it is passed on (the side effect
// never happens) or after (it happened, but the caller sees an error, as when an agent dies right
// after the other side answered). The plan also logs every call, in order.
//
// Thread-safe: the counter is atomic and the log locked (workflows call from several threads).

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace dr::testing {

enum class FaultMode { before, after };

class FaultPlan {
 public:
  // Fails call number `k` of the plan (1-based, counted from its first call; 0 never fails).
  void fail_at(long k, FaultMode mode) {
    std::lock_guard lock(mutex_);
    fail_at_ = k;
    mode_ = mode;
  }
  long calls() const { return calls_.load(); }
  // Counts (and logs) from zero again: what a test set up through the plan's wrappers before
  // the workflow under test starts is not part of its calls.
  void restart() {
    std::lock_guard lock(mutex_);
    calls_ = 0;
    log_.clear();
  }
  bool fired() const { return fired_.load(); }
  std::vector<std::string> log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

  // Called after every call has returned (or failed), with its name: a sweep checks invariants
  // there ("never one image primary at both sites"). Set before the calls start.
  void after_each(std::function<void(const std::string&)> observer) {
    observer_ = std::move(observer);
  }

  // Runs `f` as call `what`, or fails it as planned. `f` returns a dr::Result or dr::Status.
  template <class F>
  auto call(const std::string& what, F&& f) -> decltype(f()) {
    auto result = planned(what, std::forward<F>(f));
    if (observer_) observer_(what);
    return result;
  }

 private:
  template <class F>
  auto planned(const std::string& what, F&& f) -> decltype(f()) {
    const long n = ++calls_;
    long fail_at;
    FaultMode mode;
    {
      std::lock_guard lock(mutex_);
      log_.push_back(what);
      fail_at = fail_at_;
      mode = mode_;
    }
    if (n != fail_at) return f();
    fired_ = true;
    const Error injected = dr::fail(Errc::unavailable, "injected fault at call " +
                                                           std::to_string(n) + " (" + what + ")");
    if (mode == FaultMode::before) return injected;
    (void)f();
    return injected;
  }

  std::atomic<long> calls_{0};
  std::atomic<bool> fired_{false};
  mutable std::mutex mutex_;
  long fail_at_ = 0;
  FaultMode mode_ = FaultMode::before;
  std::vector<std::string> log_;
  std::function<void(const std::string&)> observer_;
};

}  // namespace dr::testing
