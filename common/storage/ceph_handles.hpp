#pragma once
// RAII owners of librados/librbd C handles. Included only by the .cpp files of dr_storage_rbd:
// Ceph types never leave that library.
//
// rados_t, rados_ioctx_t and rbd_image_t are all `void*`. A unique_ptr<void, ...> would let a pool
// handle be passed where an image handle is expected, so each gets its own move-only type. An
// owner declares cluster, then pool, then images, so destruction runs images -> pool -> cluster.

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <utility>

namespace dr::storage {

template <class Handle, void (*Release)(Handle)>
class CephHandle {
 public:
  CephHandle() = default;
  explicit CephHandle(Handle h) noexcept : h_(h) {}
  CephHandle(CephHandle&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
  CephHandle& operator=(CephHandle&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }
  CephHandle(const CephHandle&) = delete;
  CephHandle& operator=(const CephHandle&) = delete;
  ~CephHandle() { reset(); }

  Handle get() const noexcept { return h_; }
  // For C calls that fill in a handle: `rados_ioctx_create(c, pool, ioctx.out())`.
  Handle* out() noexcept {
    reset();
    return &h_;
  }
  void reset() noexcept {
    if (h_ != nullptr) Release(std::exchange(h_, nullptr));
  }

 private:
  Handle h_ = nullptr;
};

namespace detail {
inline void close_image(rbd_image_t h) { rbd_close(h); }
}  // namespace detail

using RadosCluster = CephHandle<rados_t, rados_shutdown>;
using IoContext = CephHandle<rados_ioctx_t, rados_ioctx_destroy>;
using RbdImage = CephHandle<rbd_image_t, detail::close_image>;

}  // namespace dr::storage
