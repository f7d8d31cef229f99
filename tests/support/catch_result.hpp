#pragma once
// Lets Catch2 print dr::Result / boost::system::result values in assertions (REQUIRE(r)).
// Boost declares an operator<< for every result<T, E>, which Catch2 would pick and fail to
// instantiate for our value and error types; this specialisation prints the state instead, and
// the error's message when it is a dr::Error. Force-included into every test target
// (tests/CMakeLists.txt), so tests include <catch2/catch.hpp> as usual.

#include <string>

#include <boost/system/result.hpp>
#include <catch2/catch.hpp>

#include "core/result.hpp"

namespace Catch {

template <class T, class E>
struct StringMaker<boost::system::result<T, E>> {
  static std::string convert(const boost::system::result<T, E>& r) {
    if (r) return "{value}";
    if constexpr (std::is_same_v<E, dr::Error>) {
      return std::string("{error ") + dr::to_string(r.error().code) + ": " + r.error().message +
             "}";
    } else {
      return "{error}";
    }
  }
};

}  // namespace Catch
