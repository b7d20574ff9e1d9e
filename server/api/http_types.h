#pragma once
// HTTP message types shared by the router, the handlers and the session (no sockets here).

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace mls::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using RequestPtr = std::shared_ptr<const Request>;
using Clock = std::chrono::steady_clock;

// Where an answer goes: called exactly once, from whichever thread finished the work (model work
// may end on a compute thread).
using Reply = std::function<void(Response&& res)>;

}  // namespace mls::server
