#pragma once
// What every connection shares: the router, the inference pool, limits, and the drain state.

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <unordered_set>

#include <boost/asio/ssl/context.hpp>

#include "server/api/router.h"
#include "server/app/serve_options.h"

namespace mls::server {

class Session;

// The open sessions, so a drain can close the idle ones.
class SessionTracker {
 public:
  void add(const std::shared_ptr<Session>& s);
  void remove(Session* s);
  std::size_t size() const;
  // Asks every open session to close once it has no request in progress.
  void close_idle_sessions();

 private:
  mutable std::mutex mutex_;
  std::unordered_set<Session*> sessions_;
};

struct SessionContext {
  Router& router;
  boost::asio::thread_pool& workers;
  const ServeOptions& options;
  SessionTracker tracker;
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> queued{0};  // requests waiting for or running on an inference thread
  boost::asio::ssl::context* tls = nullptr;  // set: the port speaks only HTTPS
};

}  // namespace mls::server
