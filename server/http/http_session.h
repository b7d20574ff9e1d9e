#pragma once
// One client connection: read a request, answer it, repeat while keep-alive holds.
// Everything on a connection runs on its io_context's one thread; model work may hop to the
// inference pool and comes back to that thread to be written. Pipelined requests are answered in
// order because a connection reads its next request only after writing the previous answer.
//
// The session is a template over its stream, plain TCP or TLS, so neither pays for the other: no
// virtual call per I/O step. Only the drain reaches sessions through the Session base.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "server/http/io_lanes.h"
#include "server/http/session_context.h"

namespace mls::server {

// Each connection lives on one io_context that one thread runs, so it needs no strand. Concrete
// executor types rather than Asio's type-erased default: every async step of every request passes
// through them, and erasure costs an allocation-prone copy each time.
using SessionExecutor = boost::asio::io_context::executor_type;
using SessionSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, SessionExecutor>;
using PlainStream = boost::beast::basic_stream<boost::asio::ip::tcp, SessionExecutor>;
using TlsStream = boost::beast::ssl_stream<PlainStream>;
using SessionTimer =
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                      SessionExecutor>;

// What the tracker and the drain see of a session.
class Session : public std::enable_shared_from_this<Session> {
 public:
  virtual ~Session() = default;
  // From the drain: close now if waiting for a request, else after the current answer.
  virtual void close_if_idle() = 0;
};

template <class Stream>
class HttpSession final : public Session {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  HttpSession(SessionSocket&& socket, SessionContext& context, LaneSeat seat);
  ~HttpSession() override;

  void start();
  void close_if_idle() override;

 private:
  using Clock = std::chrono::steady_clock;
  // Beast reads at most 64 KiB at a time: more free room than that is never used.
  static constexpr std::size_t kMaxReadAhead = 64 * 1024;
  // What a connection's read buffer may keep between requests.
  static constexpr std::size_t kIdleBufferBytes = 8 * 1024;

  std::shared_ptr<HttpSession> self() {
    return std::static_pointer_cast<HttpSession>(shared_from_this());
  }
  PlainStream& lowest() { return boost::beast::get_lowest_layer(stream_); }

  void handshake();
  void wait_for_request();
  bool idle();
  void on_header(boost::system::error_code ec, std::size_t bytes);
  void make_room_for_body(std::uint64_t remaining);
  void read_body();
  void on_body(boost::system::error_code ec, std::size_t bytes);
  void handle_request();
  void send(Response&& res);
  void on_write(bool close, boost::system::error_code ec, std::size_t bytes);
  void reject_and_close(http::status status, std::string_view message);
  void linger();
  void shutdown_tls();
  void close();
  // One deadline per phase (handshake, waiting for a request, its body, writing the answer): when
  // it passes, the pending I/O is cancelled (not the socket closed), so a request that is late
  // can still be told so with a 408.
  void arm_deadline(Clock::duration timeout);
  void wait_for_deadline();
  void on_deadline(boost::system::error_code ec);

  Stream stream_;
  SessionTimer deadline_;
  // The current phase's deadline; max while the model has the request (the router keeps its own).
  Clock::time_point deadline_at_ = Clock::time_point::max();
  // Waits on deadline_ not yet completed, a cancelled one included.
  unsigned timer_waits_ = 0;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Response> response_;
  std::string head_;  // the answer's status line and fields, sent with its body in one write
  std::shared_ptr<void> continue_message_;
  SessionContext& context_;
  LaneSeat seat_;
  bool handshaking_ = false;
  bool reading_header_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
};

extern template class HttpSession<PlainStream>;
extern template class HttpSession<TlsStream>;

// Refuses a connection over --max-connections without reading from it: a 503 on a plain socket
// (best effort, never blocking), then close.
void refuse_connection(SessionSocket& socket, bool tls);

}  // namespace mls::server
