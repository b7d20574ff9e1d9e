#include "server/http/http_server.h"

#include <spdlog/spdlog.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <unistd.h>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <csignal>
#include <fstream>
#include <thread>

#include "server/http/http_session.h"

namespace mls::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

unsigned default_thread_count() {
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

// The reason OpenSSL gave last, or what ec says.
std::string ssl_reason(const error_code& ec) {
  std::string reason = ec.message();
  if (ec.category() == net::error::get_ssl_category()) {
    char text[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), text, sizeof text);
    reason = text;
  }
  return reason;
}

std::string common_name(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return "?";
  char cn[256] = "";
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) < 0)
    return "(none)";
  return cn;
}

// Each connection holds a descriptor: raise the soft limit toward the hard one so that
// --max-connections, not EMFILE (accept failing in a retry loop), is what limits them.
void raise_descriptor_limit(std::size_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(max_connections) + 256;  // models, logs, listeners
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    spdlog::warn(
        "only {} file descriptors (ulimit -n): fewer than --max-connections {} can be open",
        static_cast<unsigned long long>(limit.rlim_cur), max_connections);
  }
}

}  // namespace

HttpServer::HttpServer(const ServeOptions& options, Router& router)
    : options_(options),
      lanes_(options.io_threads != 0 ? options.io_threads : default_thread_count()),
      workers_(options.workers != 0 ? options.workers : default_thread_count()),
      context_{router, workers_, options, {}, {}, {}},
      acceptor_(lanes_.context(0)),
      accept_retry_(lanes_.context(0)),
      signals_(lanes_.context(0), SIGTERM, SIGINT) {}

HttpServer::~HttpServer() {
  workers_.stop();
  workers_.join();
}

// TLS 1.2 and 1.3 only, forward-secret AEAD ciphers (Mozilla's "intermediate" list), no
// renegotiation, no compression.
Status HttpServer::load_tls() {
  if (options_.tls_cert.empty() != options_.tls_key.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "TLS needs both --tls-cert and --tls-key (MLS_TLS_CERT, MLS_TLS_KEY)");
  }
  if (options_.tls_cert.empty()) return Ok{};
  for (const std::string* file : {&options_.tls_cert, &options_.tls_key}) {
    if (!std::ifstream(*file)) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("cannot read TLS ") +
                            (file == &options_.tls_cert ? "certificate" : "key") + " file " +
                            *file);
    }
  }
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  error_code ec;
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1 | net::ssl::context::no_compression |
                       net::ssl::context::single_dh_use,
                   ec);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return make_error(ErrorCode::kInternal, "cannot configure TLS");
  }
  if (ctx->use_certificate_chain_file(options_.tls_cert, ec); ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot use TLS certificate " + options_.tls_cert + ": " + ssl_reason(ec));
  }
  if (ctx->use_private_key_file(options_.tls_key, net::ssl::context::pem, ec); ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot use TLS key " + options_.tls_key + ": " + ssl_reason(ec));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "TLS key " + options_.tls_key + " does not match certificate " + options_.tls_cert);
  }
  spdlog::info("TLS on, cert CN={}, from {} (TLS 1.2 and 1.3 only)", common_name(native),
               options_.tls_cert);
  tls_ = std::move(ctx);
  context_.tls = tls_.get();
  return Ok{};
}

Status HttpServer::listen() {
  if (auto s = load_tls(); !s) return s;
  raise_descriptor_limit(options_.max_connections);
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
  acceptor_.async_accept(
      lanes_.context(0).get_executor(),
      [this](error_code ec, SessionSocket socket) { on_accept(ec, std::move(socket)); });
}

void HttpServer::on_accept(error_code ec, SessionSocket&& socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors and the like: back off briefly instead of spinning.
    spdlog::warn("accept failed: {}; retrying in 50 ms", ec.message());
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([this](error_code wait_ec) {
      if (!wait_ec) accept();
    });
    return;
  }
  if (context_.tracker.size() >= options_.max_connections) {
    refuse_connection(socket, context_.tls != nullptr);
  } else {
    start_session(std::move(socket));
  }
  accept();
}

// The socket was accepted on lane 0's io_context; a connection placed on another lane moves its
// descriptor there before its first operation.
void HttpServer::start_session(SessionSocket&& accepted) {
  error_code ec;
  accepted.set_option(tcp::no_delay(true), ec);
  const int cpu = incoming_cpu(accepted.native_handle());
  const std::size_t lane = lanes_.place(cpu);
  SessionSocket socket(lanes_.context(lane).get_executor());
  if (lane == 0) {
    socket = std::move(accepted);
  } else {
    const auto protocol = accepted.local_endpoint(ec).protocol();
    if (ec) return;  // the peer is gone already: nothing to serve
    const auto descriptor = accepted.release(ec);
    if (ec) return;
    if (socket.assign(protocol, descriptor, ec); ec) {
      ::close(descriptor);
      return;
    }
  }
  LaneSeat seat = lanes_.seat(lane);
  spdlog::debug("connection from CPU {} placed on I/O thread {} ({} connections there)", cpu, lane,
                lanes_.connections(lane));
  if (context_.tls != nullptr) {
    std::make_shared<HttpSession<TlsStream>>(std::move(socket), context_, std::move(seat))->start();
  } else {
    std::make_shared<HttpSession<PlainStream>>(std::move(socket), context_, std::move(seat))
        ->start();
  }
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
  // The contexts may now run out of work: each returns once its connections are done.
  net::post(acceptor_.get_executor(), [this] { keep_running_.clear(); });
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
    // Sweep idle connections again while draining: one that was between an answer and its next
    // read when the first sweep ran is idle now.
    const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
    while (!finished_ && std::chrono::steady_clock::now() < deadline) {
      if (drain_cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return finished_; }))
        return;
      context_.tracker.close_idle_sessions();
    }
    if (finished_) return;
    spdlog::warn("drain took longer than {} ms; closing the remaining connections",
                 options_.drain_timeout.count());
    for (std::size_t i = 0; i < lanes_.size(); ++i)
      lanes_.context(i).stop();
  });

  for (std::size_t i = 0; i < lanes_.size(); ++i)
    keep_running_.push_back(net::make_work_guard(lanes_.context(i)));
  std::vector<std::thread> io;
  for (std::size_t i = 1; i < lanes_.size(); ++i)
    io.emplace_back([this, i] { lanes_.run(i); });
  lanes_.run(0);
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
