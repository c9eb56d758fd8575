// KvCache: what cpu::Attention reads through View (kv_cache.h).
#include "exec/kv_cache.h"

#include <vector>

#include "gtest/gtest.h"

namespace g4::exec {
namespace {

// Full layers reserve the whole context: growing by a long prompt keeps the storage where it
// was (no copy, no transient second cache), and a shared layer views its source's storage.
TEST(KvCache, FullLayersGrowInPlaceAndSharedLayersViewTheSource) {
  for (bool bf16 : {true, false}) {
    KvCache kv;
    kv.Init(/*num_layers=*/3, bf16, /*context=*/4096, /*max_batch=*/512);
    kv.AddLayer(0, /*owns=*/true, 0, /*window=*/0, /*row=*/64);
    kv.AddLayer(1, /*owns=*/true, 1, /*window=*/16, /*row=*/64);
    kv.AddLayer(2, /*owns=*/false, /*source=*/0, /*window=*/0, /*row=*/64);
    std::vector<float> k(512 * 64, 0.5f), v(512 * 64, -2.0f);
    kv.Write(0, 0, 1, k.data(), v.data());
    const cpu::KvView first = kv.View(0);
    for (int64_t pos = 1; pos + 512 <= 4096; pos += 512) kv.Write(0, pos, 512, k.data(), v.data());
    const cpu::KvView grown = kv.View(0);
    EXPECT_EQ(first.k16, grown.k16);
    EXPECT_EQ(first.k32, grown.k32);
    EXPECT_GE(grown.capacity, 3585);
    EXPECT_FALSE(grown.ring);
    const cpu::KvView shared = kv.View(2);
    EXPECT_EQ(shared.k16, grown.k16);
    EXPECT_EQ(shared.v32, grown.v32);
    EXPECT_EQ(shared.capacity, grown.capacity);
    const cpu::KvView ring = kv.View(1);
    EXPECT_TRUE(ring.ring);
    EXPECT_EQ(ring.capacity, 16 + 512);
    // The values read back are the ones written (bf16 holds 0.5 and -2 exactly).
    std::vector<float> out(64);
    kv.Read(2, 3000, /*value=*/true, out.data());
    EXPECT_EQ(out[17], -2.0f);
    kv.Read(0, 3000, /*value=*/false, out.data());
    EXPECT_EQ(out[63], 0.5f);
  }
}

}  // namespace
}  // namespace g4::exec
