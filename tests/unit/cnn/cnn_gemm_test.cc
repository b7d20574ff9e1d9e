// The one door to OpenBLAS (cnn_gemm.h): one thread, and no idle worker threads started at load
// (an idle OpenBLAS worker spins on sched_yield for its first ~0.1 s, taking a core from the
// server). ctest runs each test in its own process, so these see the process as OpenBLAS left it
// at load, before any product.

#include "models/cnn/cnn_gemm.h"

#include <filesystem>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>

extern "C" int openblas_get_num_threads(void);  // OpenBLAS's own API (cblas.h)

namespace mls::cnn {
namespace {

std::size_t threads_of_this_process() {
  const std::filesystem::directory_iterator tasks("/proc/self/task");
  return static_cast<std::size_t>(std::distance(begin(tasks), end(tasks)));
}

TEST(CnnGemm, OpenBlasStartsOnOneThreadWithNoWorkers) {
  EXPECT_EQ(openblas_get_num_threads(), 1);
  EXPECT_EQ(threads_of_this_process(), 1u);
}

TEST(CnnGemm, MultipliesOnTheCallingThread) {
  // [2x3] . [3x2], large enough to be a real sgemm (not the sgemv path for one row).
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::vector<float> b = {7, 8, 9, 10, 11, 12};
  std::vector<float> c(4, -1.0f);
  gemm(false, false, 2, 2, 3, 1.0f, a.data(), 3, b.data(), 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{58, 64, 139, 154}));
  EXPECT_EQ(openblas_get_num_threads(), 1);
  EXPECT_EQ(threads_of_this_process(), 1u);
}

}  // namespace
}  // namespace mls::cnn
