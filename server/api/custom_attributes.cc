#include "server/api/custom_attributes.h"

namespace mls::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> custom_attribute(std::string_view header, std::string_view key) {
  while (!header.empty()) {
    const std::size_t sep = header.find_first_of(",;");
    const std::string_view pair = header.substr(0, sep);
    header = sep == std::string_view::npos ? std::string_view{} : header.substr(sep + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(pair.substr(0, eq)) == key) return std::string(trim(pair.substr(eq + 1)));
  }
  return std::nullopt;
}

std::string model_name_from_target(std::string_view target) {
  target = trim(target);
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
