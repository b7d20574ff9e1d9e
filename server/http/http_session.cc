#include "server/http/http_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <vector>

#include "server/api/error_response.h"

namespace mls::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;

void SessionTracker::add(const std::shared_ptr<HttpSession>& s) {
  std::lock_guard lock(mutex_);
  sessions_.insert(s.get());
}

void SessionTracker::remove(HttpSession* s) {
  std::lock_guard lock(mutex_);
  sessions_.erase(s);
}

std::size_t SessionTracker::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void SessionTracker::close_idle_sessions() {
  std::vector<std::shared_ptr<HttpSession>> alive;
  {
    std::lock_guard lock(mutex_);
    for (HttpSession* s : sessions_) {
      // A session whose destructor waits on our mutex has no owners left: lock() gives null.
      if (auto owner = s->weak_from_this().lock()) alive.push_back(std::move(owner));
    }
  }
  // Outside the lock: dropping the last owner here runs ~HttpSession, which takes the lock.
  for (auto& session : alive)
    session->close_if_idle();
}

HttpSession::HttpSession(SessionSocket&& socket, SessionContext& context)
    : stream_(std::move(socket)), context_(context) {
  context_.router.service().metrics.connections_open().Increment();
}

HttpSession::~HttpSession() {
  context_.tracker.remove(this);
  context_.router.service().metrics.connections_open().Decrement();
}

void HttpSession::start() {
  context_.tracker.add(shared_from_this());
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
}

void HttpSession::close_if_idle() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    if (self->idle()) self->close();
  });
}

void HttpSession::wait_for_request() {
  if (closed_) return;
  if (context_.draining) return close();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(context_.options.max_header_bytes));
  parser_->body_limit(context_.options.max_body_bytes);
  // Idle keep-alive time and the header's arrival share one deadline; the body gets its own.
  stream_.expires_after(context_.options.idle_timeout);
  reading_header_ = true;
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, std::size_t n) {
                            self->reading_header_ = false;
                            self->on_header(ec, n);
                          });
}

// Idle means waiting for a request of which no byte has arrived: closing then loses nothing.
bool HttpSession::idle() const {
  return reading_header_ && buffer_.size() == 0 && parser_ && !parser_->got_some();
}

void HttpSession::on_header(error_code ec, std::size_t bytes) {
  if (ec) return on_body(ec, bytes);
  const auto length = parser_->content_length();
  if (length && *length > context_.options.max_body_bytes) {
    return reject_and_close(http::status::payload_too_large,
                            "body of " + std::to_string(*length) + " bytes is over the limit of " +
                                std::to_string(context_.options.max_body_bytes) + " bytes");
  }
  const auto& req = parser_->get();
  if (beast::iequals(req[http::field::expect], "100-continue")) {
    auto interim =
        std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
    continue_message_ = interim;
    http::async_write(stream_, *interim, [self = shared_from_this()](error_code ec, std::size_t) {
      self->continue_message_.reset();
      if (ec) return self->close();
      self->read_body();
    });
    return;
  }
  read_body();
}

void HttpSession::read_body() {
  stream_.expires_after(
      context_.options.request_timeout);  // a slow client costs a socket, not a thread
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](error_code ec, std::size_t n) { self->on_body(ec, n); });
}

void HttpSession::on_body(error_code ec, std::size_t) {
  if (!ec) return handle_request();
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset) {
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
  reject_and_close(http::status::bad_request, "malformed HTTP request: " + ec.message());
}

void HttpSession::handle_request() {
  stream_.expires_never();
  auto req = std::make_shared<const Request>(parser_->release());
  parser_.reset();
  Router& router = context_.router;
  router.service().metrics.requests_in_flight().Increment();
  const auto arrival = Clock::now();
  const auto deadline = arrival + context_.options.request_timeout;
  // The work guard keeps this connection's I/O thread alive (even while draining) until the answer
  // is back; an answer from another thread hops to it, one from this thread is written at once.
  Reply reply = [self = shared_from_this(), guard = net::make_work_guard(stream_.get_executor()),
                 head = req->method() == http::verb::head](Response&& res) {
    if (head) res.body().clear();
    if (self->stream_.get_executor().running_in_this_thread()) return self->send(std::move(res));
    net::post(self->stream_.get_executor(),
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
  net::post(context_.workers, [self = shared_from_this(), req = std::move(req), deadline,
                               reply = std::move(reply)]() mutable {
    if (Clock::now() > deadline) {
      Response res =
          error_response(*req, http::status::service_unavailable,
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

void HttpSession::send(Response&& res) {
  const bool close_after = !res.keep_alive() || context_.draining;
  if (close_after) res.keep_alive(false);
  response_.emplace(std::move(res));
  stream_.expires_after(
      context_.options.request_timeout);  // a client that never reads cannot pin us
  http::async_write(stream_, *response_,
                    [self = shared_from_this(), close_after](error_code ec, std::size_t n) {
                      self->on_write(close_after, ec, n);
                    });
}

void HttpSession::on_write(bool close_after, error_code ec, std::size_t) {
  response_.reset();
  context_.router.service().metrics.requests_in_flight().Decrement();
  if (ec || close_after) return close();
  wait_for_request();
}

// Answers a request we will not read to the end, then closes. The client may still be sending,
// so the socket is shut for writing and drained briefly: closing with unread bytes would reset
// the connection and could destroy the answer before the client reads it.
void HttpSession::reject_and_close(http::status status, std::string_view message) {
  Request stub;
  stub.version(parser_ ? parser_->get().version() : 11);
  Response res = error_response(stub, status, message);
  res.keep_alive(false);
  context_.router.service().metrics.observe_request("other", "", res.result_int(), 0);
  parser_.reset();
  response_.emplace(std::move(res));
  stream_.expires_after(std::chrono::seconds(5));
  http::async_write(stream_, *response_, [self = shared_from_this()](error_code ec, std::size_t) {
    self->response_.reset();
    if (ec) return self->close();
    error_code ignored;
    self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    self->stream_.expires_after(std::chrono::seconds(2));
    self->linger();
  });
}

void HttpSession::linger() {
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(64 * 1024),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                            if (ec) return self->close();
                            self->linger();
                          });
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();  // the stream's own close also cancels its timeout timer
}

}  // namespace mls::server
