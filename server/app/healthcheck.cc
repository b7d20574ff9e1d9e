#include "server/app/healthcheck.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>

namespace mls::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

int run_healthcheck(const HealthcheckOptions& options) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  http::request<http::empty_body> req{http::verb::get, "/ping", 11};
  req.set(http::field::host, options.host);
  req.set(http::field::user_agent, "mls-healthcheck");
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  error_code failure;
  // One deadline for the whole exchange: async steps, because sync Beast calls have no timeout.
  stream.expires_after(options.timeout);
  error_code ec;
  const auto address = net::ip::make_address(options.host, ec);
  if (ec) {
    std::fprintf(stderr, "healthcheck: bad address %s: %s\n", options.host.c_str(),
                 ec.message().c_str());
    return 1;
  }
  stream.async_connect(tcp::endpoint(address, options.port), [&](error_code connect_ec) {
    if (connect_ec) {
      failure = connect_ec;
      return;
    }
    http::async_write(stream, req, [&](error_code write_ec, std::size_t) {
      if (write_ec) {
        failure = write_ec;
        return;
      }
      http::async_read(stream, buffer, res,
                       [&](error_code read_ec, std::size_t) { failure = read_ec; });
    });
  });
  ioc.run();
  if (failure) {
    std::fprintf(stderr, "healthcheck: %s:%u: %s\n", options.host.c_str(), options.port,
                 failure.message().c_str());
    return 1;
  }
  if (res.result() != http::status::ok) {
    std::fprintf(stderr, "healthcheck: /ping answered %u: %s\n", res.result_int(),
                 res.body().c_str());
    return 1;
  }
  return 0;
}

}  // namespace mls::server
