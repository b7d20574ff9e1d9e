#pragma once
// HTTP message types shared by the router, the handlers and the session (no sockets here).

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace mls::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

}  // namespace mls::server
