#include "server/app/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace mls::server {
namespace {

// %*: the message as a JSON string (quoted, escaped), for one-object-per-line logs.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

Status init_logging(const std::string& level, const std::string& format) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return make_error(ErrorCode::kInvalidArgument,
                      "log level '" + level + "': expected trace, debug, info, warn, error or off");
  }
  if (format != "plain" && format != "json") {
    return make_error(ErrorCode::kInvalidArgument,
                      "log format '" + format + "': expected plain or json");
  }
  auto logger =
      std::make_shared<spdlog::logger>("mls", std::make_shared<spdlog::sinks::stdout_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == "json") {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","message":%*})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);  // CloudWatch should see a line as soon as it is written
  spdlog::set_default_logger(std::move(logger));
  return Ok{};
}

}  // namespace mls::server
