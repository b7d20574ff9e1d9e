#include "server/app/healthcheck.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cstdio>
#include <functional>

namespace mls::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

// GET /ping over stream (connected); failure gets the first error.
template <class Stream>
void exchange(Stream& stream, const HealthcheckOptions& options,
              http::response<http::string_body>& res, beast::flat_buffer& buffer,
              error_code& failure) {
  auto req = std::make_shared<http::request<http::empty_body>>(http::verb::get, "/ping", 11);
  req->set(http::field::host, options.host);
  req->set(http::field::user_agent, "mls-healthcheck");
  http::async_write(stream, *req, [&, req](error_code write_ec, std::size_t) {
    if (write_ec) {
      failure = write_ec;
      return;
    }
    http::async_read(stream, buffer, res,
                     [&](error_code read_ec, std::size_t) { failure = read_ec; });
  });
}

}  // namespace

int run_healthcheck(const HealthcheckOptions& options) {
  net::io_context ioc;
  net::ssl::context tls(net::ssl::context::tls_client);
  tls.set_verify_mode(net::ssl::verify_none);  // our own server on this host, by address
  beast::ssl_stream<beast::tcp_stream> stream(ioc, tls);
  beast::tcp_stream& tcp_stream = beast::get_lowest_layer(stream);
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  error_code failure;
  // One deadline for the whole exchange: async steps, because sync Beast calls have no timeout.
  tcp_stream.expires_after(options.timeout);
  error_code ec;
  const auto address = net::ip::make_address(options.host, ec);
  if (ec) {
    std::fprintf(stderr, "healthcheck: bad address %s: %s\n", options.host.c_str(),
                 ec.message().c_str());
    return 1;
  }
  tcp_stream.async_connect(tcp::endpoint(address, options.port), [&](error_code connect_ec) {
    if (connect_ec) {
      failure = connect_ec;
      return;
    }
    if (!options.tls) return exchange(tcp_stream, options, res, buffer, failure);
    stream.async_handshake(net::ssl::stream_base::client, [&](error_code handshake_ec) {
      if (handshake_ec) {
        failure = handshake_ec;
        return;
      }
      exchange(stream, options, res, buffer, failure);
    });
  });
  ioc.run();
  if (failure) {
    std::fprintf(stderr, "healthcheck: %s://%s:%u: %s\n", options.tls ? "https" : "http",
                 options.host.c_str(), options.port, failure.message().c_str());
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
