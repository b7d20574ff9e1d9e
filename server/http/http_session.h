#pragma once
// One client connection: read a request, answer it, repeat while keep-alive holds.
// Everything on a connection runs on its own strand; model work may hop to the inference pool
// and comes back to the strand to be written. Pipelined requests are answered in order because a
// connection reads its next request only after writing the previous answer.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "server/http/session_context.h"

namespace mls::server {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, SessionContext& context);
  ~HttpSession();

  void start();
  // From the drain: close now if waiting for a request, else after the current answer.
  void close_if_idle();

 private:
  void wait_for_request();
  bool idle() const;
  void on_header(boost::system::error_code ec, std::size_t bytes);
  void read_body();
  void on_body(boost::system::error_code ec, std::size_t bytes);
  void handle_request();
  void send(Response&& res);
  void on_write(bool close, boost::system::error_code ec, std::size_t bytes);
  void reject_and_close(http::status status, std::string_view message);
  void linger();
  void close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Response> response_;
  std::shared_ptr<void> continue_message_;
  SessionContext& context_;
  std::chrono::steady_clock::time_point request_start_;
  bool reading_header_ = false;
  bool closed_ = false;
};

}  // namespace mls::server
