#include "server/http/response_head.h"

#include <charconv>

namespace mls::server {

void append_response_head(const Response& res, std::string& out) {
  out.append(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char code[8];
  const auto end = std::to_chars(code, code + sizeof code, res.result_int()).ptr;
  out.append(code, end);
  out.push_back(' ');
  out.append(res.reason());
  out.append("\r\n");
  for (const auto& field : res.base()) {
    out.append(field.name_string());
    out.append(": ");
    out.append(field.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace mls::server
