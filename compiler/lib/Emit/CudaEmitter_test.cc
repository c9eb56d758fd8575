// parsePtxasVerbose on the shape of CUDA 13's `nvcc -Xptxas -v` output (the compile.log summary).
#include <gtest/gtest.h>

#include "g4/Emit/CudaEmitter.h"

namespace mlir::g4 {
namespace {

TEST(CudaEmitter, ParsesPtxasVerbose) {
  const char *out =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'g4kcr_1' for 'sm_80'\n"
      "ptxas info    : Function properties for g4kcr_1\n"
      "    40 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n"
      "ptxas info    : Used 38 registers, used 1 barriers, 64 bytes smem, 392 bytes cmem[0]\n"
      "ptxas info    : Function properties for __internal_trig_reduction_slowpathd\n"
      "    40 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Compile time = 18.410 ms\n"
      "ptxas info    : Compiling entry function 'g4kcr_0' for 'sm_90a'\n"
      "ptxas info    : Function properties for g4kcr_0\n"
      "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 27 registers, used 0 barriers, 400 bytes cmem[0]\n";
  std::vector<PtxasKernelInfo> k = parsePtxasVerbose(out);
  ASSERT_EQ(k.size(), 2u);
  EXPECT_EQ(k[0].name, "g4kcr_1");
  EXPECT_EQ(k[0].arch, "sm_80");
  EXPECT_EQ(k[0].registers, 38);
  EXPECT_EQ(k[0].smemBytes, 64);
  EXPECT_EQ(k[0].stackBytes, 40);
  EXPECT_EQ(k[0].spillStores, 8);
  EXPECT_EQ(k[0].spillLoads, 12);
  EXPECT_EQ(k[1].name, "g4kcr_0");
  EXPECT_EQ(k[1].arch, "sm_90a");
  EXPECT_EQ(k[1].registers, 27);
  EXPECT_EQ(k[1].smemBytes, 0);
  EXPECT_EQ(k[1].stackBytes, 0);
}

}  // namespace
}  // namespace mlir::g4
