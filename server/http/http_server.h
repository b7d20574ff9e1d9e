#pragma once
// The HTTP front: an acceptor, I/O threads running one io_context, an inference thread pool, and
// the SIGTERM/SIGINT drain (stop accepting, answer what is in flight, exit before SIGKILL).

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "models/core/status.h"
#include "server/api/router.h"
#include "server/app/serve_options.h"
#include "server/http/http_session.h"
#include "server/http/io_lanes.h"
#include "server/http/session_context.h"

namespace mls::server {

class HttpServer {
 public:
  HttpServer(const ServeOptions& options, Router& router);
  ~HttpServer();

  // Loads the TLS certificate and key when asked for, binds and listens. Errors: kInvalidArgument
  // naming a certificate or key that cannot be used; kInternal naming the address and the reason
  // (e.g. port in use).
  Status listen();
  std::uint16_t port() const;

  // Serves until SIGTERM or SIGINT, then drains; returns once every thread has finished.
  void run();

 private:
  void accept();
  Status load_tls();
  void begin_drain(const std::string& why);

  void on_accept(boost::system::error_code ec, SessionSocket&& socket);
  void start_session(SessionSocket&& accepted);

  const ServeOptions& options_;
  // One io_context per I/O thread: a connection stays on one thread from accept to close, so its
  // handlers never hop threads and need no strand.
  IoLanes lanes_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      keep_running_;
  boost::asio::thread_pool workers_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  SessionContext context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  boost::asio::signal_set signals_;
  std::uint16_t port_ = 0;
  std::mutex drain_mutex_;
  std::condition_variable drain_cv_;
  bool finished_ = false;
};

unsigned default_thread_count();

}  // namespace mls::server
