// The flat response head the session writes must be byte for byte what Beast's serializer writes
// for the same response: clients saw Beast's bytes before, and every answer goes out this way.

#include "server/http/response_head.h"

#include <gtest/gtest.h>

#include <boost/beast/http/write.hpp>
#include <sstream>
#include <string>

namespace mls::server {
namespace {

std::string beast_wire(const Response& res) {
  std::ostringstream out;
  out << res;  // Beast's serializer
  return out.str();
}

std::string our_wire(const Response& res) {
  std::string wire;
  append_response_head(res, wire);
  return wire + res.body();
}

Response make(http::status status, unsigned version, std::string body) {
  Response res(status, version);
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

TEST(ResponseHead, MatchesBeastForAPrediction) {
  const Response res = make(http::status::ok, 11, R"({"predictions":[{"label":0}]})");
  EXPECT_EQ(our_wire(res), beast_wire(res));
  EXPECT_TRUE(our_wire(res).starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
}

TEST(ResponseHead, MatchesBeastForErrorsThatClose) {
  for (const auto status : {http::status::bad_request, http::status::not_found,
                            http::status::payload_too_large, http::status::service_unavailable,
                            http::status::request_timeout, http::status::unsupported_media_type}) {
    Response res = make(status, 11, R"({"error":"x"})");
    res.keep_alive(false);
    EXPECT_EQ(our_wire(res), beast_wire(res)) << res.result_int();
    EXPECT_NE(our_wire(res).find("Connection: close\r\n"), std::string::npos);
  }
}

TEST(ResponseHead, MatchesBeastForHttp10KeepAlive) {
  Response res = make(http::status::ok, 10, "pong");
  res.keep_alive(true);
  EXPECT_EQ(our_wire(res), beast_wire(res));
  EXPECT_TRUE(our_wire(res).starts_with("HTTP/1.0 200 OK\r\n"));
}

TEST(ResponseHead, KeepsContentLengthWhenAHeadAnswerDropsItsBody) {
  Response res = make(http::status::ok, 11, "0123456789");
  res.body().clear();  // what the session does for HEAD
  EXPECT_EQ(our_wire(res), beast_wire(res));
  EXPECT_TRUE(our_wire(res).ends_with("Content-Length: 10\r\n\r\n"));
}

TEST(ResponseHead, MatchesBeastForManyAndRepeatedFields) {
  Response res = make(http::status::ok, 11, "a,b\n");
  res.set("X-Amzn-Invoked-Production-Variant", "AllTraffic");
  res.insert(http::field::vary, "Accept");
  res.insert(http::field::vary, "Content-Type");
  res.set(http::field::retry_after, "1");
  EXPECT_EQ(our_wire(res), beast_wire(res));
}

TEST(ResponseHead, MatchesBeastForACodeWithoutAStandardReason) {
  Response res = make(static_cast<http::status>(599), 11, "{}");
  EXPECT_EQ(our_wire(res), beast_wire(res));
  res.reason("Custom Reason");
  EXPECT_EQ(our_wire(res), beast_wire(res));
  EXPECT_TRUE(our_wire(res).starts_with("HTTP/1.1 599 Custom Reason\r\n"));
}

}  // namespace
}  // namespace mls::server
