// Internal interface between the MatMul driver (matmul.cc: shapes, tiling, threads) and the
// per-ISA chunk kernels (matmul_portable.cc, matmul_avx2.cc). Not a public header.
//
// The driver walks each output tile of up to kRowTile rows x kTokenTile tokens over the input
// dimension in chunks of kChunk elements; a kernel adds one chunk's products into float64
// accumulators. Within a chunk each (row, token) pair accumulates in 8 fp32 lanes in a fixed
// order, so the result of a pair never depends on the tile shape around it.
#ifndef GEMMA4C_KERNELS_CPU_MATMUL_INTERNAL_H_
#define GEMMA4C_KERNELS_CPU_MATMUL_INTERNAL_H_

#include <cstdint>

#include "gguf/ggml_types.h"

namespace g4::cpu::internal {

using gguf::GgmlType;

constexpr int kChunk = 256;     // elements per fp32 accumulation chunk (= one K-quant block)
// Software prefetch distance of the kernels that stream weights from DRAM once (decode GEMV):
// the bytes this far ahead in the same sequential stream are prefetched while the current ones
// are computed on. The hardware prefetchers alone keep fewer lines in flight than a plain
// read-only sweep does while the kernel computes. Measured on Zen 4 with bench/ab.sh (the decode
// sweeps, 5-6 alternated pairs against the build without it, median B/A): packed Q4_0 1.21,
// Q8_0 1.28, Q4_K 1.22, BF16 1.11 (docs/kernels-cpu.md, "Prefetch").
constexpr int64_t kStreamPrefetchBytes = 2048;
constexpr int kRowTile = 4;     // rows per tile: each activation load feeds 4 rows
constexpr int kTokenTile = 2;   // tokens per tile: each weight load feeds 2 tokens
constexpr int kQ8Block = 32;    // activation quantization block

// BF16 matrices packed for the GEMV (PackedMatrix of type BF16; packed_matmul.h): tiles of
// kRowTile rows, 2 * kRowTile * in bytes each (in a multiple of 8). Within a tile, chunk by
// chunk (kChunk elements; the last may be shorter), the rows' 8-element runs interleaved: run k
// of rows 0..3, then run k + 1 of rows 0..3, ... Why: each (row, chunk) is one dependent fp32
// FMA chain (the numerics), so a kernel reading one row at a time waits on its chain; reading
// 4 rows from their places in a GGUF matrix makes 4 streams, which this hardware reads from
// DRAM far slower than one; and long rows re-read the whole activation vector per row through
// L1 next to the weights (docs/kernels-cpu.md, "BF16 row tiles"). Interleaved, the kernel runs
// 4 rows' chains side by side on one sequential stream, each activation load serving 4 rows.
// The element offset, from its tile's start, of element e of the tile's row r:
inline int64_t Bf16TileOffset(int r, int64_t e) {
  const int64_t c0 = e / kChunk * kChunk, i = e - c0;
  return kRowTile * c0 + i / 8 * (8 * kRowTile) + 8 * r + i % 8;
}

// A packed Q4_K chunk (one 256-superblock of 8 rows, packed_matmul.h), in the order the kernels
// first read it: the tail, d[8] and dmin[8] (f16), sc[group][row] and m[group][row] (u8,
// unpacked), at the chunk's start; then 1024 nibble bytes from kPackedQ4KNibbles on.
constexpr int64_t kPackedQ4KNibbleBytes = 1024;
constexpr int64_t kPackedQ4KTailBytes = 16 + 16 + 64 + 64;
constexpr int64_t kPackedQ4KNibbles = kPackedQ4KTailBytes;
// A packed Q6_K chunk (one superblock of 8 rows; packed_matmul.h): the tail first, d[8] (f16)
// and the int8 scales sc[16-group][row], padded to 160; then per half h (768 bytes each) the ql
// word vectors 0..7, the qh word vectors 0..7, the ql word vectors 8..15: the order in which the
// kernel first reads them, so a chunk is read front to back.
constexpr int64_t kPackedQ6KTailBytes = 160;
constexpr int64_t kPackedQ6KHalfBytes = 768;
inline int64_t PackedQ6KHalf(int h) { return kPackedQ6KTailBytes + kPackedQ6KHalfBytes * h; }
// Within a half: ql word vector 8 * hi + k (hi = 0, 1; k < 8), qh word vector k.
inline int64_t PackedQ6KQl(int hi, int k) { return 512 * hi + 32 * k; }
inline int64_t PackedQ6KQh(int k) { return 256 + 32 * k; }

// One token's int8 activations, positioned at some block: block b holds x ~ d[b] * q[32b + j].
struct Q8Act {
  const int8_t* q;
  const float* d;
  const float* sum;  // d[b] * sum_j q[32b + j]: block b's sum of the quantized x (Q4_K mins)
  const int32_t* isum = nullptr;  // sum_j q[32b + j] (packed panels only; else null)
  const int32_t* isum16 = nullptr;  // [2b + h]: sum_j<16 q[32b + 16h + j] (packed panels only)
};

// Packed panels (packed_matmul.h): rows per panel, tokens per kernel call, the bytes of one
// 32-block of a panel's weights, the bytes of its scales (kept before the chunk's weight blocks:
// 8 f16; Q4_K and Q6_K: an eighth of their superblock's tail), and of a chunk of nb
// blocks.
constexpr int kPackedRows = 8;
constexpr int kPackedTokenTile = 4;
// Tokens per pass of KernelTable::dot_packed_pair: 4 accumulators per token (an int32 and an
// fp32 one per panel) take 24 of the 32 registers AVX-512VL gives 256-bit code.
constexpr int kPackedPairTokenTile = 6;
// Tokens per call of KernelTable::dot_bf16_pairs: with two tiles, 2 accumulators per token take
// 24 of AVX-512's 32 registers, next to the 2 weight registers and the broadcast activations.
constexpr int kBf16PairTokens = 12;
// Elements per fp32 accumulation chunk of the BF16 pair products (numerics: each of a row's 4
// lanes takes at most 2 * kBf16PairChunk / 8 products before its chunk goes to float64). Four
// kChunk: the chunk's float64 reduction runs a quarter as often (GEMM 157 -> 185 GFLOP/s on one
// thread, matmul_bench --bf16-acts, 1536 x 6144).
constexpr int kBf16PairChunk = 1024;
inline int64_t PackedBlockBytes(GgmlType type) {
  switch (type) {
    case GgmlType::kQ8_0: return 256;
    case GgmlType::kQ6_K: return 2 * kPackedQ6KHalfBytes / 8;
    default: return 128;  // Q4_0, Q4_K
  }
}
inline int64_t PackedScaleBytes(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_K: return kPackedQ4KTailBytes / 8;
    case GgmlType::kQ6_K: return kPackedQ6KTailBytes / 8;
    default: return 2 * kPackedRows;
  }
}
// Where a packed Q8_0 / Q4_0 chunk of nb blocks keeps its weight blocks: after the nb x 8 f16
// scales ([block][row]), which come first because the kernel reads block 0's scales with its
// weights (a chunk read front to back; "Tail first" in docs/kernels-cpu.md).
inline int64_t PackedBlocksOffset(int64_t nb) { return nb * 2 * kPackedRows; }
inline int64_t PackedChunkBytes(GgmlType type, int64_t nb) {
  return nb * (PackedBlockBytes(type) + PackedScaleBytes(type));
}

// One kChunk of kPanelRows weight rows, packed for the panel GEMM: for block b and 4-element
// group g, w[b][g] holds the group of rows 0..7 side by side (row r at bytes 4r..4r+3), so one
// integer dot against the token's group, broadcast, yields group g's exact dot product for 8
// rows at once, each in its own lane: what the 4-row kernels compute in lane g of each row,
// transposed. The bytes are the ISA's: AVX-VNNI stores them UNSIGNED (Q8_0: w + 128, Q4_0: the
// stored nibble w + 8) for vpdpbusd and leaves `aux` unused; AVX2 stores signed w and |w| in
// `aux` for maddubs.
constexpr int kPanelRows = 8;
struct alignas(32) PanelChunk {
  uint8_t w[kChunk / kQ8Block][kQ8Block / 4][kPanelRows * 4];    // [block][group][row * 4 + j]
  uint8_t aux[kChunk / kQ8Block][kQ8Block / 4][kPanelRows * 4];  // same layout
  float d[kChunk / kQ8Block][kPanelRows];                         // [block][row]: weight scale
};

// acc[r * acc_stride + t] addresses the float64 accumulator of row r, token t.
struct KernelTable {
  // Activations of the integer path: `blocks` 32-blocks of x -> q (int8), d, sum per block, by
  // the one rule every ISA follows bit for bit (matmul.cc: QuantizeActivations):
  // d = amax / 127 (fp32; NaN elements ignored), q = nearbyint(clamp(x * (1 / d), +-127)) (NaN:
  // 0; d = 0: all 0), sum = d * sum(q).
  void (*quantize_q8)(const float* x, int64_t blocks, int8_t* q, float* d, float* sum);
  // Exact path, weights: n elements of one row starting at `src` (whole blocks; any n for the
  // float types) widened to fp32, bit-identical to gguf::Dequantize.
  void (*decode)(GgmlType type, const uint8_t* src, int64_t n, float* dst);
  // Exact path, products: acc[r][t] += sum_{i<n} w[r][i] * x[t][i], n <= kChunk,
  // R <= kRowTile, T <= kTokenTile.
  void (*dot_f32)(const float* const* w, int R, const float* const* x, int T, int64_t n,
                  double* acc, int64_t acc_stride);
  // Integer path: acc[r][t] += dot(n quantized weights of row r at w[r], token t's q8
  // activations x[t]); n is a whole number of weight blocks, of any length: the products go to
  // float64 chunk by chunk (kChunk elements), so one call over a row equals one call per chunk.
  // `prefetch` > 0: while reading w[r], prefetch the bytes that far further on (the driver's
  // next row tile); 0: none. A hint: results never depend on it.
  void (*dot_q8)(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x, int T,
                 int64_t n, double* acc, int64_t acc_stride, int64_t prefetch);

  // Optional panel GEMM (all three nullptr when this ISA has none).
  // panel_offset: -1 when the panel kernels do not take `type`; else the K of dot_panel's
  // offset4 (0: dot_panel does not read offset4).
  int32_t (*panel_offset)(GgmlType type);
  // pack_panel: n elements (whole blocks, n <= kChunk) of 8 rows, rows[r] at the chunk's start.
  void (*pack_panel)(GgmlType type, const uint8_t* const* rows, int64_t n, PanelChunk* out);
  // dot_panel: acc8[r] += row r's chunk . token x, x at the chunk's first block; offset4[g'] =
  // -K * (sum of the token's 4-group g' of q), for the chunk's groups. The result is
  // bit-identical to dot_q8 on the same row and token (same integers, same fp32 lane chains,
  // same float64 lane sum).
  void (*dot_panel)(const PanelChunk& w, int64_t n, const Q8Act& x, const int32_t* offset4,
                    double* acc8);

  // Packed panels (packed_matmul.h; every table has it): acc[t * 8 + r] += row r's products
  // with token t over the `nblocks` (<= 8) blocks of the chunk at `chunk`, x[t] positioned at the
  // chunk's first block with isum set, T <= kPackedTokenTile. Type Q8_0 or Q4_0, or Q4_K / Q6_K
  // with nblocks = 8 (one superblock). Bit-identical on every ISA (packed_matmul.h, "Numerics").
  void (*dot_packed)(GgmlType type, const uint8_t* chunk, int nblocks, const Q8Act* x, int T,
                     double* acc);
  // Optional (nullptr: decode + dot_f32): acc[t] += one BF16 row of n weights at w (n a
  // multiple of 8, any length) . token t's x[t] (fp32, n of them), T <= kTokenTile. Each 8
  // weights are widened in registers, then per kChunk exactly dot_f32's FMAs in dot_f32's lanes,
  // chunk sums to float64 in chunk order: the same result as decode into fp32 followed by
  // dot_f32 chunk by chunk, without the round trip through L1.
  void (*dot_bf16)(const uint8_t* w, const float* const* x, int T, int64_t n, double* acc) = nullptr;
  // Optional (nullptr: none): dot_bf16 with x given as bf16 (the upper halves of fp32 values
  // that are bf16-exact), widened in registers: the same values, so dot_bf16's bits. For the
  // GEMV, where x is read once per row: half the bytes streaming through L1 next to the weights
  // (docs/kernels-cpu.md, "Long rows").
  void (*dot_bf16x)(const uint8_t* w, const uint16_t* const* x, int T, int64_t n,
                    double* acc) = nullptr;
  // Optional (nullptr: decode + dot_f32): acc[r * kTokenTile + t] += row r of the packed BF16
  // tile at `tile` (Bf16TileOffset; rows of n elements, n a multiple of 8) . token t's
  // activations, T <= kTokenTile: x[t] (fp32, n in order), or xb[t] when xb is not null (the
  // bf16 halves of bf16-exact ones, as dot_bf16x). Per (row, token) and chunk, dot_bf16's FMAs
  // in its lanes and chunk sums to float64 in chunk order: its bits.
  void (*dot_bf16_tile)(const uint8_t* tile, const float* const* x, const uint16_t* const* xb,
                        int T, int64_t n, double* acc) = nullptr;
  // Optional (nullptr: the driver's portable loop): rows 0..R-1 of the n elements (a multiple of
  // 8, n <= kChunk) of a packed BF16 tile's chunk at `chunk` (Bf16TileOffset) widened exactly
  // into dst[r][0..n), for the GEMM.
  void (*decode_bf16_tile)(const uint8_t* chunk, int64_t n, int R, float (*dst)[kChunk]) = nullptr;
  // Optional (nullptr: none): two packed Q8_0, Q4_0 or Q4_K panels in one pass, for batches that
  // take several passes (prefill): acc[t * 16 + r] += row r's products with token t, rows 0..7
  // of the panel whose chunk is at chunk_a, 8..15 of the one at chunk_b, T <= kPackedPairTokenTile.
  // Each broadcast of a token's 4 activation bytes feeds both panels' vpdpbusd, where dot_packed
  // broadcasts once per panel: the broadcasts, not the multiplies, bound the one-panel kernel
  // (docs/kernels-cpu.md, "Panel pairs"). Q4_K: nblocks = 8 (one superblock). Bit-identical to
  // dot_packed on each panel (the same exact integers, the same fp32 FMAs in the same order).
  void (*dot_packed_pair)(GgmlType type, const uint8_t* chunk_a, const uint8_t* chunk_b,
                          int nblocks, const Q8Act* x, int T, double* acc) = nullptr;
  // Optional (nullptr: none; AVX512_BF16 only): the BF16 pair products. `ntiles` (1 or 2)
  // packed BF16 tiles (Bf16TileOffset), tile_bytes apart, against T <= kBf16PairTokens tokens
  // whose activations are bf16-exact, given as bf16 (xb[t], n of them; n a multiple of 8):
  // acc[t * acc_stride + r] = row r's sum, r < 4 * ntiles (token-major: the driver stores each
  // token's rows as one contiguous run of Y). Not dot_bf16_tile's order but the one vdpbf16ps
  // computes in (docs/kernels-cpu.md, "BF16 pair products"): per kBf16PairChunk elements, row r
  // keeps 4 fp32 lanes; lane j takes, run after run (8 elements), the products of elements
  // 2j + 1 and then 2j of the run, each added with one rounding to nearest even (the products
  // of two bf16 are exact in fp32), inputs and results below 2^-126 flushed to zero (vdpbf16ps
  // has DAZ and FTZ fixed); the chunk's sum ((l0 + l2) + (l1 + l3)) in float64, chunk sums
  // added in chunk order. Thread count and tile shape never enter: each (row, token) is one
  // fixed sequence.
  void (*dot_bf16_pairs)(const uint8_t* tiles, int64_t tile_bytes, int ntiles,
                         const uint16_t* const* xb, int T, int64_t n, double* acc,
                         int64_t acc_stride) = nullptr;
};

// A kernel with the dot_q8 signature that takes at most one chunk (n <= kChunk).
using DotQ8ChunkFn = void (*)(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x,
                              int T, int64_t n, double* acc, int64_t acc_stride);

// Prefetches [p, p + bytes) into the cache, one hint per 64-byte line.
inline void PrefetchSpan(const uint8_t* p, int64_t bytes) {
  for (int64_t i = 0; i < bytes; i += 64) __builtin_prefetch(p + i, /*rw=*/0, /*locality=*/3);
}

// The dot_q8 contract (any n, prefetch) on top of such a kernel: one call per kChunk elements,
// each chunk's prefetches issued before it. No intrinsics here, so it is safe to share between
// the per-ISA files.
inline void DotQ8ByChunks(DotQ8ChunkFn chunk_fn, GgmlType type, const uint8_t* const* w, int R,
                          const Q8Act* x, int T, int64_t n, double* acc, int64_t acc_stride,
                          int64_t prefetch) {
  const gguf::TypeTraits& traits = gguf::Traits(type);
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t len = n - i < kChunk ? n - i : kChunk;
    const int64_t byte0 = i / traits.block_elems * traits.block_bytes;
    const uint8_t* wc[kRowTile];
    Q8Act xc[kTokenTile];
    for (int r = 0; r < R; ++r) wc[r] = w[r] + byte0;
    if (prefetch > 0) {
      for (int r = 0; r < R; ++r) PrefetchSpan(wc[r] + prefetch, len / traits.block_elems * traits.block_bytes);
    }
    for (int t = 0; t < T; ++t) xc[t] = {x[t].q + i, x[t].d + i / kQ8Block, x[t].sum + i / kQ8Block};
    chunk_fn(type, wc, R, xc, T, len, acc, acc_stride);
  }
}

const KernelTable& PortableKernels();
// nullptr when the AVX2 kernels were not compiled in (non-x86 builds).
const KernelTable* Avx2Kernels();
// The AVX2 table with AVX-VNNI integer products for Q8_0/Q4_0 (bit-identical results);
// nullptr on non-x86 builds. Callable only when the CPU has AVX-VNNI (CpuHasAvxVnni()).
const KernelTable* AvxVnniKernels();
// The same kernels with the EVEX vpdpbusd (AVX512-VNNI + AVX512VL), the same bits; nullptr on
// non-x86 builds. Callable only when the CPU has AVX512-VNNI and AVX512VL.
const KernelTable* Avx512VnniKernels();
// Avx512VnniKernels() with the BF16 pair products (dot_bf16_pairs); nullptr on non-x86 builds.
// Callable only when the CPU also has AVX512_BF16 and AVX512BW.
const KernelTable* Avx512Bf16Kernels();

}  // namespace g4::cpu::internal

#endif  // GEMMA4C_KERNELS_CPU_MATMUL_INTERNAL_H_
