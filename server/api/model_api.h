#pragma once
// The SageMaker multi-model endpoint API: POST /models (load), GET /models (list, paginated),
// GET /models/NAME (describe), DELETE /models/NAME (unload). POST /models/NAME/invoke is an
// /invocations with the model named, answered by handle_invocations.

#include <optional>
#include <string>
#include <string_view>

#include "server/api/http_types.h"
#include "server/api/service.h"

namespace mls::server {

struct ModelPath {
  std::string name;     // empty for /models itself
  bool invoke = false;  // /models/NAME/invoke
};

// Parses /models, /models/NAME and /models/NAME/invoke (NAME percent-decoded); nullopt for any
// other path.
std::optional<ModelPath> parse_model_path(std::string_view path);

// Everything under /models except invoke. A 404 that says how to turn the API on when the server
// is not a multi-model endpoint.
Response handle_models(const Request& req, const ModelPath& path, Service& service);

}  // namespace mls::server
