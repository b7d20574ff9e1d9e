#pragma once
// `mls healthcheck`: GET /ping on a local server, exit 0 on a 200. It lets an image without a
// shell or curl (the FROM-scratch one) still carry a Docker HEALTHCHECK.

#include <chrono>
#include <cstdint>
#include <string>

namespace mls::server {

struct HealthcheckOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // SAGEMAKER_BIND_TO_PORT
  std::chrono::milliseconds timeout{2000};
  bool tls = false;  // HTTPS, without verifying the certificate (it is our own server)
};

// 0 when /ping answers 200 within the timeout; 1 otherwise, with the reason on stderr.
int run_healthcheck(const HealthcheckOptions& options);

}  // namespace mls::server
