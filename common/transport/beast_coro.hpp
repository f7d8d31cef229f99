#pragma once
// What the two Beast translation units (http_server.cpp, beast_peer_client.cpp) share: the Asio
// and Beast headers, short namespace names, and the completion token of their coroutines.
// Included only by those two .cpp files; nothing outside common/transport sees Beast.
//
// Inside our coroutines, operations whose failure is an expected outcome (peer closed, timeout)
// are awaited with kTuple, which yields the error_code as a value instead of throwing it.
//
// GCC 12 destroys some temporaries of a co_await or co_return expression twice (a moved-from
// lambda capture crashed the server). So in these coroutines, class objects that own memory are
// named locals, never temporaries, in co_await and co_return expressions.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace dr::transport::beast_coro {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
inline constexpr auto kTuple = net::as_tuple(net::use_awaitable);

}  // namespace dr::transport::beast_coro
