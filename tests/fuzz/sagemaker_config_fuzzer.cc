// hyperparameters.json and inputdataconfig.json (server/train/sagemaker_config), which only read
// from paths: the input is written to a file in a private temporary folder first. Accepted
// hyperparameters then go through both models' readers (forest_params_from, cnn_params_from).

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "models/cnn/cnn_params.h"
#include "models/forest/forest_params.h"
#include "server/train/sagemaker_config.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace fs = std::filesystem;

const fs::path& scratch_file() {
  static const fs::path path = [] {
    const fs::path dir =
        fs::temp_directory_path() / ("mls-fuzz-config-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir / "hyperparameters.json";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mls;
  const fs::path& file = scratch_file();
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    FUZZ_CHECK(out.good());
  }
  auto config = server::read_json_config(file);
  if (config) FUZZ_CHECK(config->has_value() && !(*config)->empty());
  auto hp = server::read_hyperparameters(file);
  if (!hp) {
    FUZZ_CHECK(hp.error().code == ErrorCode::kInvalidArgument);
    FUZZ_CHECK(!config.ok());
    return 0;
  }
  FUZZ_CHECK(config.ok());
  (void)server::hyperparameters_json(*hp);
  (void)forest_params_from(*hp);
  (void)cnn::cnn_params_from(*hp);
  return 0;
}
