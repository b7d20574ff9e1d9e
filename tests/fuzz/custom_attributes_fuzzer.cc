// Request headers parsed by hand: X-Amzn-SageMaker-Custom-Attributes, X-Amzn-SageMaker-Target-Model
// (server/api/custom_attributes), Content-Type and Accept (server/codec/media_type).

#include <cstddef>
#include <cstdint>
#include <string>

#include "server/api/custom_attributes.h"
#include "server/codec/image_decoder.h"
#include "server/codec/media_type.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mls;
  const std::string_view header = fuzz::as_text(data, size);
  for (const char* key : {"model", "accept", ""}) {
    auto value = server::custom_attribute(header, key);
    if (value) FUZZ_CHECK(value->size() <= header.size());
  }
  const std::string name = server::model_name_from_target(header);
  FUZZ_CHECK(name.size() <= header.size());
  FUZZ_CHECK(name.find('/') == std::string::npos);

  const std::string essence = server::media_essence(header);
  FUZZ_CHECK(essence.size() <= header.size());
  FUZZ_CHECK(essence.find(';') == std::string::npos);
  (void)server::tabular_input_format(header, header);
  (void)server::tabular_input_format("", header);
  auto out = server::negotiate_output(header);
  if (out)
    FUZZ_CHECK(!server::content_type_of(*out).empty());
  else
    FUZZ_CHECK(out.error().code == ErrorCode::kNotAcceptable);
  (void)server::image_input_format(header);
  return 0;
}
