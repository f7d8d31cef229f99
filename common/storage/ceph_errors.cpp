#include "storage/ceph_errors.hpp"

#include <cerrno>
#include <cstring>

namespace dr::storage {

namespace {

Errc classify(int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:  // rados_ioctx_create on a missing pool
      return Errc::not_found;
    case EEXIST:
      return Errc::already_exists;
    case EINVAL:
    case ERANGE:
    case ENAMETOOLONG:
      return Errc::invalid_argument;
    case EBUSY:  // "image is primary within a remote cluster or demotion is not propagated yet"
    case EROFS:  // a write to a non-primary image
    case ENOTEMPTY:
    case EOPNOTSUPP:
    case EREMOTEIO:  // rbd-mirror: "remote image is not primary"
      return Errc::failed_precondition;
    case EPERM:
    case EACCES:
      return Errc::permission_denied;
    case ETIMEDOUT:
    case ENOTCONN:
    case ECONNREFUSED:
    case ESHUTDOWN:
    case EAGAIN:
      return Errc::unavailable;
    default:
      return Errc::internal;
  }
}

}  // namespace

Error from_errno(int r, const std::string& what) {
  const int err = r < 0 ? -r : r;
  return Error{classify(err), what + ": " + std::strerror(err) + " (" + std::to_string(-err) + ")",
               -err};
}

}  // namespace dr::storage
