#include "server/api/custom_attributes.h"
#include "models/core/text.h"

namespace mls::server {

std::optional<std::string> custom_attribute(std::string_view header, std::string_view key) {
  while (!header.empty()) {
    const std::size_t sep = header.find_first_of(",;");
    const std::string_view pair = header.substr(0, sep);
    header = sep == std::string_view::npos ? std::string_view{} : header.substr(sep + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim_blanks(pair.substr(0, eq)) == key)
      return std::string(trim_blanks(pair.substr(eq + 1)));
  }
  return std::nullopt;
}

std::string model_name_from_target(std::string_view target) {
  target = trim_blanks(target);
  while (!target.empty() && target.back() == '/')
    target.remove_suffix(1);
  if (const std::size_t slash = target.rfind('/'); slash != std::string_view::npos) {
    target = target.substr(slash + 1);
  }
  for (std::string_view suffix : {".tar.gz", ".tgz"}) {
    if (target.size() > suffix.size() && target.ends_with(suffix))
      target.remove_suffix(suffix.size());
  }
  return std::string(target);
}

}  // namespace mls::server
