#pragma once
// The status line and header fields of a response as one flat string, written with the body in one
// gathered send. Beast's serializer walks the same fields through a chain of buffer-sequence
// adaptors on every write; for the small answers that dominate (one CSV row, /ping) that walk was a
// larger share of a request's CPU than the model (bench/README.md, "Single-row HTTP").

#include <string>

#include "server/api/http_types.h"

namespace mls::server {

// Appends "HTTP/1.x <code> <reason>\r\n", every field as "Name: value\r\n", and the blank line to
// out. The fields are written as they are: the handlers have set Content-Length (prepare_payload)
// and Connection. Not for chunked responses (the session sends those through Beast).
void append_response_head(const Response& res, std::string& out);

}  // namespace mls::server
