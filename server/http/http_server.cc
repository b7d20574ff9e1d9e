#include "server/http/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <condition_variable>
#include <csignal>
#include <thread>

#include "server/http/http_session.h"

namespace mls::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

unsigned default_thread_count() {
  return std::max(1u, std::thread::hardware_concurrency());
}

HttpServer::HttpServer(const ServeOptions& options, Router& router)
    : options_(options),
      ioc_(static_cast<int>(options.io_threads != 0 ? options.io_threads : default_thread_count())),
      workers_(options.workers != 0 ? options.workers : default_thread_count()),
      context_{router, workers_, options, {}, {}, {}},
      acceptor_(net::make_strand(ioc_)),
      accept_retry_(acceptor_.get_executor()),
      signals_(ioc_, SIGTERM, SIGINT) {}

HttpServer::~HttpServer() {
  workers_.stop();
  workers_.join();
}

Status HttpServer::listen() {
  error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec)
    return make_error(ErrorCode::kInvalidArgument,
                      "bad listen address '" + options_.host + "': " + ec.message());
  const tcp::endpoint endpoint(address, options_.port);
  auto fail = [&](const char* what) {
    return make_error(ErrorCode::kInternal, std::string("cannot ") + what + " " + options_.host +
                                                ":" + std::to_string(options_.port) + ": " +
                                                ec.message());
  };
  if (acceptor_.open(endpoint.protocol(), ec); ec) return fail("open");
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec); ec) return fail("configure");
  if (acceptor_.bind(endpoint, ec); ec) return fail("bind");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen on");
  port_ = acceptor_.local_endpoint(ec).port();
  return Ok{};
}

std::uint16_t HttpServer::port() const {
  return port_;
}

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(ioc_.get_executor()),
                         [this](error_code ec, SessionSocket socket) {
                           if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
                           if (ec) {
                             // Out of descriptors and the like: back off briefly instead of
                             // spinning.
                             spdlog::warn("accept failed: {}; retrying in 50 ms", ec.message());
                             accept_retry_.expires_after(std::chrono::milliseconds(50));
                             accept_retry_.async_wait([this](error_code wait_ec) {
                               if (!wait_ec) accept();
                             });
                             return;
                           }
                           if (context_.tracker.size() >= options_.max_connections) {
                             error_code ignored;
                             socket.close(ignored);
                           } else {
                             socket.set_option(tcp::no_delay(true), ec);
                             std::make_shared<HttpSession>(std::move(socket), context_)->start();
                           }
                           accept();
                         });
}

void HttpServer::begin_drain(const std::string& why) {
  if (context_.draining.exchange(true)) return;
  spdlog::info("{}: no longer accepting connections; finishing {} open connection(s)", why,
               context_.tracker.size());
  net::post(acceptor_.get_executor(), [this] {
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  });
  context_.tracker.close_idle_sessions();
  {
    std::lock_guard lock(drain_mutex_);  // so the watchdog cannot miss the wake-up
  }
  drain_cv_.notify_all();
}

void HttpServer::run() {
  signals_.async_wait([this](error_code ec, int signal) {
    if (!ec) begin_drain(signal == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  net::post(acceptor_.get_executor(), [this] { accept(); });

  // Past drain_timeout after a drain starts, stop whatever is left rather than meet SIGKILL.
  std::thread watchdog([this] {
    std::unique_lock lock(drain_mutex_);
    drain_cv_.wait(lock, [this] { return finished_ || context_.draining.load(); });
    if (drain_cv_.wait_for(lock, options_.drain_timeout, [this] { return finished_; })) return;
    spdlog::warn("drain took longer than {} ms; closing the remaining connections",
                 options_.drain_timeout.count());
    ioc_.stop();
  });

  const unsigned threads = options_.io_threads != 0 ? options_.io_threads : default_thread_count();
  std::vector<std::thread> io;
  for (unsigned i = 1; i < threads; ++i)
    io.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : io)
    t.join();
  {
    std::lock_guard lock(drain_mutex_);
    finished_ = true;
  }
  drain_cv_.notify_all();
  watchdog.join();
  workers_.join();
}

}  // namespace mls::server
