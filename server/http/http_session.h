#pragma once
// One client connection: read a request, answer it, repeat while keep-alive holds.
// Everything on a connection runs on its io_context's one thread; model work may hop to the
// inference pool and comes back to that thread to be written. Pipelined requests are answered in
// order because a connection reads its next request only after writing the previous answer.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "server/http/session_context.h"

namespace mls::server {

// Each connection lives on one io_context that one thread runs, so it needs no strand. Concrete
// executor types rather than Asio's type-erased default: every async step of every request passes
// through them, and erasure costs an allocation-prone copy each time.
using SessionExecutor = boost::asio::io_context::executor_type;
using SessionSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, SessionExecutor>;
using SessionStream = boost::beast::basic_stream<boost::asio::ip::tcp, SessionExecutor>;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(SessionSocket&& socket, SessionContext& context);
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

  SessionStream stream_;
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
