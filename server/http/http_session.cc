#include "server/http/http_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <iterator>
#include <string>
#include <vector>

#include "server/api/error_response.h"
#include "server/http/response_head.h"

namespace mls::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;

void SessionTracker::add(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(mutex_);
  sessions_.insert(s.get());
}

void SessionTracker::remove(Session* s) {
  std::lock_guard lock(mutex_);
  sessions_.erase(s);
}

std::size_t SessionTracker::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void SessionTracker::close_idle_sessions() {
  std::vector<std::shared_ptr<Session>> alive;
  {
    std::lock_guard lock(mutex_);
    for (Session* s : sessions_) {
      // A session whose destructor waits on our mutex has no owners left: lock() gives null.
      if (auto owner = s->weak_from_this().lock()) alive.push_back(std::move(owner));
    }
  }
  // Outside the lock: dropping the last owner here runs ~HttpSession, which takes the lock.
  for (auto& session : alive)
    session->close_if_idle();
}

namespace {

// Builds the session's stream in place (a returned prvalue is never moved).
template <class Stream>
Stream make_stream(SessionSocket&& socket, SessionContext& context) {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    return Stream(std::move(socket), *context.tls);
  } else {
    return Stream(std::move(socket));
  }
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(SessionSocket&& socket, SessionContext& context, LaneSeat seat)
    : stream_(make_stream<Stream>(std::move(socket), context)),
      deadline_(lowest().get_executor()),
      context_(context),
      seat_(std::move(seat)) {
  context_.router.service().metrics.connections_open().Increment();
}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
  context_.tracker.remove(this);
  context_.router.service().metrics.connections_open().Decrement();
}

template <class Stream>
void HttpSession<Stream>::start() {
  context_.tracker.add(shared_from_this());
  net::dispatch(lowest().get_executor(), [self = self()] {
    if constexpr (kTls) {
      self->handshake();
    } else {
      self->wait_for_request();
    }
  });
}

template <class Stream>
void HttpSession<Stream>::close_if_idle() {
  net::post(lowest().get_executor(), [self = self()] {
    if (self->idle()) self->close();
  });
}

// A phase's deadline is a time point; the one timer wait outstanding wakes at or before it and
// either finds it passed or waits again for the rest. A new phase whose deadline is no earlier than
// the pending wake (the usual case: every phase of a keep-alive request has a long timeout) costs a
// clock read and no timer operation, where cancelling and re-arming cost two timer-queue updates
// and two handler runs per request.
template <class Stream>
void HttpSession<Stream>::arm_deadline(Clock::duration timeout) {
  timed_out_ = false;
  deadline_at_ = Clock::now() + timeout;
  if (timer_waits_ != 0 && deadline_.expiry() <= deadline_at_) return;
  deadline_.expires_at(deadline_at_);  // a later pending wake is cancelled: it returns aborted
  wait_for_deadline();
}

template <class Stream>
void HttpSession<Stream>::wait_for_deadline() {
  ++timer_waits_;
  deadline_.async_wait([self = self()](error_code ec) { self->on_deadline(ec); });
}

template <class Stream>
void HttpSession<Stream>::on_deadline(error_code ec) {
  --timer_waits_;
  // Aborted: closed, or replaced by an earlier wake that is pending now. No deadline: a request is
  // with the model (the router keeps its deadline); the answer's send arms the next.
  if (ec || closed_ || deadline_at_ == Clock::time_point::max()) return;
  if (timer_waits_ != 0) return;  // a newer wake is pending
  if (Clock::now() < deadline_at_) {
    deadline_.expires_at(deadline_at_);
    return wait_for_deadline();
  }
  timed_out_ = true;
  error_code ignored;
  lowest().socket().cancel(ignored);  // the pending step fails with operation_aborted
}

// TLS only: the handshake has its own, short deadline; a client speaking plain HTTP to the TLS
// port fails it at its first bytes and is closed.
template <class Stream>
void HttpSession<Stream>::handshake() {
  if constexpr (kTls) {
    arm_deadline(std::min<Clock::duration>(context_.options.tls_handshake_timeout,
                                           context_.options.request_timeout));
    handshaking_ = true;
    stream_.async_handshake(net::ssl::stream_base::server, [self = self()](error_code ec) {
      self->handshaking_ = false;
      if (ec) {
        spdlog::debug("TLS handshake failed: {}", self->timed_out_ ? "timeout" : ec.message());
        return self->close();
      }
      self->wait_for_request();
    });
  }
}

template <class Stream>
void HttpSession<Stream>::wait_for_request() {
  if (closed_) return;
  if (context_.draining) return close();
  // An idle keep-alive connection keeps a small buffer: a large body's room goes back here.
  if (buffer_.capacity() > kIdleBufferBytes) buffer_.shrink_to_fit();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(context_.options.max_header_bytes));
  parser_->body_limit(context_.options.max_body_bytes);
  // Idle keep-alive time and the header's arrival share one deadline; the body gets its own.
  arm_deadline(context_.options.idle_timeout);
  reading_header_ = true;
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = self()](error_code ec, std::size_t n) {
                            self->reading_header_ = false;
                            self->on_header(ec, n);
                          });
}

// Idle means waiting for a request of which no byte has arrived, not even in the kernel's receive
// buffer (or for the TLS handshake that precedes it): closing then loses nothing. A request that
// has reached the socket but not yet our read would otherwise be dropped by a drain's sweep.
template <class Stream>
bool HttpSession<Stream>::idle() {
  if (handshaking_) return true;
  if (!reading_header_ || buffer_.size() != 0 || !parser_ || parser_->got_some()) return false;
  error_code ec;
  const std::size_t unread = lowest().socket().available(ec);
  return !ec && unread == 0;
}

template <class Stream>
void HttpSession<Stream>::on_header(error_code ec, std::size_t bytes) {
  if (ec) return on_body(ec, bytes);
  const auto length = parser_->content_length();
  if (length && *length > context_.options.max_body_bytes) {
    return reject_and_close(http::status::payload_too_large,
                            "body of " + std::to_string(*length) + " bytes is over the limit of " +
                                std::to_string(context_.options.max_body_bytes) + " bytes");
  }
  const auto& req = parser_->get();
  // RFC 9112 6.3: unless Transfer-Encoding is exactly one "chunked", the body's length is unknown.
  // Beast would read such a body as empty and the bytes after the header as the next request
  // (request smuggling past a proxy that reads them as this request's body), so refuse and close.
  if (const auto te = req.equal_range(http::field::transfer_encoding); te.first != te.second) {
    std::string_view value = te.first->value();
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
      value.remove_suffix(1);
    if (std::next(te.first) != te.second || !beast::iequals(value, "chunked")) {
      constexpr std::size_t kShown = 40;
      const std::string shown =
          value.size() > kShown ? std::string(value.substr(0, kShown)) + "..." : std::string(value);
      return reject_and_close(http::status::bad_request,
                              "Transfer-Encoding '" + shown +
                                  "' is not supported: send the body chunked (Transfer-Encoding: "
                                  "chunked, once) or with a Content-Length");
    }
  }
  // The body gets request_timeout from here, unless it is already in the buffer (the usual case
  // for small requests: then there is nothing left to wait for).
  if (!length || buffer_.size() < *length) {
    arm_deadline(context_.options.request_timeout);
    make_room_for_body(length ? *length - buffer_.size() : kMaxReadAhead);
  }
  if (beast::iequals(req[http::field::expect], "100-continue")) {
    auto interim =
        std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
    continue_message_ = interim;
    http::async_write(stream_, *interim, [self = self()](error_code ec, std::size_t) {
      self->continue_message_.reset();
      if (ec) return self->close();
      self->read_body();
    });
    return;
  }
  read_body();
}

// Beast reads max(512, free capacity) bytes at a time and the parser empties the buffer after each
// read, so a buffer still at its first size read a large body 512 bytes per system call, each with
// its own trip round the io_context: 185 recvmsg and 158 epoll_wait for a 95 KB CSV body. Room for
// the rest of the body, up to the 64 KiB Beast asks for per read, lets a read take what the socket
// holds.
template <class Stream>
void HttpSession<Stream>::make_room_for_body(std::uint64_t remaining) {
  buffer_.reserve(buffer_.size() +
                  static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kMaxReadAhead)));
}

template <class Stream>
void HttpSession<Stream>::read_body() {
  // A small request's body usually arrived with its header: parse it from the buffer here rather
  // than through an asynchronous read that would find it there anyway, one trip through the
  // io_context per request fewer. Whatever is missing is then read asynchronously.
  if (!parser_->is_done() && buffer_.size() != 0) {
    error_code ec;
    parser_->eager(true);
    const std::size_t used = parser_->put(buffer_.data(), ec);
    if (ec && ec != http::error::need_more) return on_body(ec, 0);
    buffer_.consume(used);
  }
  if (parser_->is_done()) return on_body({}, 0);
  http::async_read(stream_, buffer_, *parser_,
                   [self = self()](error_code ec, std::size_t n) { self->on_body(ec, n); });
}

template <class Stream>
void HttpSession<Stream>::on_body(error_code ec, std::size_t) {
  if (!ec) return handle_request();
  if (timed_out_) {
    // Part of a request and then silence until the deadline: say so. Nothing at all: just close.
    if (buffer_.size() == 0 && parser_ && !parser_->got_some()) return close();
    const auto limit = reading_header_ || (parser_ && !parser_->is_header_done())
                           ? context_.options.idle_timeout
                           : context_.options.request_timeout;
    return reject_and_close(
        http::status::request_timeout,
        "the request did not arrive in full within " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) + " s");
  }
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      ec == net::ssl::error::stream_truncated) {
    return close();
  }
  if (ec == http::error::body_limit) {
    return reject_and_close(http::status::payload_too_large,
                            "body is over the limit of " +
                                std::to_string(context_.options.max_body_bytes) +
                                " bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB raises it)");
  }
  if (ec == http::error::header_limit) {
    return reject_and_close(http::status::request_header_fields_too_large,
                            "headers are over the limit of " +
                                std::to_string(context_.options.max_header_bytes) + " bytes");
  }
  if (ec.category() != http::make_error_code(http::error::bad_target).category()) {
    return close();  // the socket or TLS failed: nobody to answer
  }
  reject_and_close(http::status::bad_request, "malformed HTTP request: " + ec.message());
}

template <class Stream>
void HttpSession<Stream>::handle_request() {
  deadline_at_ = Clock::time_point::max();  // the router keeps the request's own deadline from here
  IoLanes::note_cpu();
  auto req = std::make_shared<const Request>(parser_->release());
  parser_.reset();
  Router& router = context_.router;
  router.service().metrics.request_started();
  const auto arrival = Clock::now();
  const auto deadline = arrival + context_.options.request_timeout;
  // The work guard keeps this connection's I/O thread alive (even while draining) until the answer
  // is back; an answer from another thread hops to it, one from this thread is written at once.
  Reply reply = [self = self(), guard = net::make_work_guard(lowest().get_executor()),
                 head = req->method() == http::verb::head](Response&& res) {
    if (head) res.body().clear();
    if (self->lowest().get_executor().running_in_this_thread()) return self->send(std::move(res));
    net::post(self->lowest().get_executor(),
              [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
  };
  if (!router.runs_on_worker(*req)) return router.dispatch(req, deadline, std::move(reply));
  if (context_.queued.load() >= context_.options.max_queue) {
    Response res = error_response(*req, http::status::service_unavailable,
                                  "server is busy: " + std::to_string(context_.options.max_queue) +
                                      " requests are already waiting; retry shortly");
    router.record(*req, res, "", arrival);
    return reply(std::move(res));
  }
  ++context_.queued;
  net::post(context_.workers,
            [self = self(), req = std::move(req), deadline, reply = std::move(reply)]() mutable {
              if (Clock::now() > deadline) {
                Response res = error_response(
                    *req, http::status::service_unavailable,
                    "request waited past its deadline for an inference thread; retry shortly");
                self->context_.router.record(*req, res, "",
                                             deadline - self->context_.options.request_timeout);
                reply(std::move(res));
              } else {
                self->context_.router.dispatch(req, deadline, std::move(reply));
              }
              --self->context_.queued;
            });
}

template <class Stream>
void HttpSession<Stream>::send(Response&& res) {
  const bool close_after = !res.keep_alive() || context_.draining;
  if (close_after) res.keep_alive(false);
  response_.emplace(std::move(res));
  arm_deadline(context_.options.request_timeout);  // a client that never reads cannot pin us
  auto written = [self = self(), close_after](error_code ec, std::size_t n) {
    self->on_write(close_after, ec, n);
  };
  if (response_->chunked()) return http::async_write(stream_, *response_, std::move(written));
  head_.clear();
  append_response_head(*response_, head_);
  const std::array<net::const_buffer, 2> wire{net::buffer(head_), net::buffer(response_->body())};
  net::async_write(stream_, wire, std::move(written));
}

template <class Stream>
void HttpSession<Stream>::on_write(bool close_after, error_code ec, std::size_t) {
  response_.reset();
  context_.router.service().metrics.request_finished();
  if (ec) return close();
  if (close_after) {
    if constexpr (kTls) return shutdown_tls();
    return close();
  }
  wait_for_request();
}

// Answers a request we will not read to the end, then closes. The client may still be sending,
// so the socket is shut for writing and drained briefly: closing with unread bytes would reset
// the connection and could destroy the answer before the client reads it.
template <class Stream>
void HttpSession<Stream>::reject_and_close(http::status status, std::string_view message) {
  Request stub;
  stub.version(parser_ ? parser_->get().version() : 11);
  Response res = error_response(stub, status, message);
  res.keep_alive(false);
  context_.router.service().metrics.observe_request("other", "", res.result_int(), 0);
  parser_.reset();
  response_.emplace(std::move(res));
  arm_deadline(std::chrono::seconds(5));
  http::async_write(stream_, *response_, [self = self()](error_code ec, std::size_t) {
    self->response_.reset();
    if (ec) return self->close();
    if constexpr (kTls) return self->shutdown_tls();
    error_code ignored;
    self->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    self->arm_deadline(std::chrono::seconds(2));
    self->linger();
  });
}

template <class Stream>
void HttpSession<Stream>::linger() {
  buffer_.clear();
  lowest().async_read_some(buffer_.prepare(64 * 1024), [self = self()](error_code ec, std::size_t) {
    if (ec) return self->close();
    self->linger();
  });
}

// TLS: send close_notify (and give the client a moment to answer it) before closing, so clients
// see a clean end of stream rather than a truncation.
template <class Stream>
void HttpSession<Stream>::shutdown_tls() {
  if constexpr (kTls) {
    arm_deadline(std::chrono::seconds(1));
    stream_.async_shutdown([self = self()](error_code) { self->close(); });
  }
}

template <class Stream>
void HttpSession<Stream>::close() {
  if (closed_) return;
  closed_ = true;
  deadline_.cancel();
  error_code ignored;
  lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
  lowest().close();
}

template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;

void refuse_connection(SessionSocket& socket, bool tls) {
  error_code ignored;
  if (!tls) {
    static constexpr std::string_view kAnswer =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 60\r\n"
        "Connection: close\r\n"
        "\r\n"
        "{\"error\":\"too many open connections; retry on another one\"}\n";
    socket.non_blocking(true, ignored);
    socket.send(net::buffer(kAnswer), tcp::socket::message_flags{}, ignored);
    socket.shutdown(tcp::socket::shutdown_send, ignored);
  }
  socket.close(ignored);
}

}  // namespace mls::server
