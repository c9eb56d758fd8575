// MatMul driver: argument checks, ISA dispatch, activation quantization, tiling and threads.
// The arithmetic lives in the per-ISA chunk kernels (matmul_internal.h).
#include "cpu/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/row_ops.h"
#include "cpu/matmul_internal.h"
#include "cpu/packed_matmul.h"

namespace g4::cpu {
namespace {

using internal::kChunk;
using internal::KernelTable;
using internal::kQ8Block;
using internal::kRowTile;
using internal::kTokenTile;
using internal::Q8Act;

// Token blocks keep the activations one thread walks over (for all its row tiles) in L2: about
// this many bytes of them. Weights are streamed once per token block.
constexpr int64_t kActivationBlockBytes = 512 * 1024;
constexpr int64_t kMaxTokenBlock = 64;

// The token-block heuristic's bytes per token of q8 activations: `in` int8 values and one float
// (d) per 32-block. The block sums (another in / 8) and the panel's offset4 are not counted.
int64_t Q8BytesPerToken(int64_t in) { return in + in / 8; }

// Tokens per block for activations of `bytes_per_token`: about kActivationBlockBytes of them, a
// multiple of `tile`, at least one tile and at most kMaxTokenBlock.
int64_t TokenBlock(int64_t bytes_per_token, int64_t tile) {
  return std::clamp<int64_t>(kActivationBlockBytes / bytes_per_token / tile * tile, tile,
                             kMaxTokenBlock);
}

// fn(begin, end) over disjoint ranges covering [0, n): on `pool`, or inline without one.
template <typename Fn>
void ForRange(ThreadPool* pool, int64_t n, Fn&& fn) {
  if (pool != nullptr) {
    pool->ParallelFor(n, fn);
  } else {
    fn(0, n);
  }
}

// Block-quantized weights (everything but F32/F16/BF16): these take the integer path.
bool IsQuantized(GgmlType t) {
  return t != GgmlType::kF32 && t != GgmlType::kF16 && t != GgmlType::kBF16;
}

// Activations of all tokens quantized to int8 per 32-block (the integer path's input).
struct Q8Activations {
  int64_t blocks_per_token = 0;
  std::vector<int8_t> q;
  std::vector<float> d, sum;
  // Panel GEMM only: [tokens][in / 4] int32, -K * (sum of each 4-group of q), K the weight
  // type's PanelOffset (the offset the unsigned weights carry, taken back out per group).
  std::vector<int32_t> offset4;
  bool has_offset4 = false;  // offset4 belongs to this call (not a stale one of this thread)
  // Packed panels only: [tokens][blocks] sum of each block's q (Q8Act::isum), and
  // [tokens][2 * blocks] the sums of its two halves of 16 (Q8Act::isum16).
  std::vector<int32_t> isum, isum16;
  bool has_isum = false;

  const int32_t* Offset4At(int64_t token, int64_t group) const {
    if (!has_offset4) return nullptr;
    return offset4.data() + token * blocks_per_token * (kQ8Block / 4) + group;
  }

  Q8Act At(int64_t token, int64_t block) const {
    const int64_t b = token * blocks_per_token + block;
    return {q.data() + b * kQ8Block, d.data() + b, sum.data() + b,
            has_isum ? isum.data() + b : nullptr, has_isum ? isum16.data() + 2 * b : nullptr};
  }
};

// The calling thread's activation buffers, shared by MatMul and MatMulPacked: a decode step
// makes hundreds of calls, none should allocate, and one buffer per thread is enough (a call
// quantizes into it and uses it before returning). Workers read it through the caller's pointer:
// inside a lambda run on a worker the thread_local's name would be the worker's own instance.
Q8Activations& CallerActivations() {
  thread_local Q8Activations acts;
  return acts;
}

// The activations' quantization rule (d kept in fp32, sum of the QUANTIZED x) is
// KernelTable::quantize_q8's; why it is that rule: matmul_portable.cc, QuantizeQ8.
// panel_offset: the K of Q8Activations::offset4, 0 when no panel GEMM follows.
// with_isum: also the blocks' integer sums (Q8Activations::isum), for the packed panels.
void QuantizeActivations(const KernelTable* k, const float* X, int64_t in, int64_t tokens,
                         int32_t panel_offset, bool with_isum, ThreadPool* pool,
                         Q8Activations* acts) {
  acts->blocks_per_token = in / kQ8Block;
  const int64_t blocks = tokens * acts->blocks_per_token;
  acts->q.resize(static_cast<size_t>(blocks * kQ8Block));
  acts->d.resize(static_cast<size_t>(blocks));
  acts->sum.resize(static_cast<size_t>(blocks));
  acts->has_offset4 = panel_offset != 0;
  if (acts->has_offset4) acts->offset4.resize(static_cast<size_t>(blocks * kQ8Block / 4));
  acts->has_isum = with_isum;
  if (with_isum) {
    acts->isum.resize(static_cast<size_t>(blocks));
    acts->isum16.resize(static_cast<size_t>(2 * blocks));
  }
  auto quantize = [&](int64_t begin, int64_t end) {
    k->quantize_q8(X + begin * kQ8Block, end - begin, acts->q.data() + begin * kQ8Block,
                   acts->d.data() + begin, acts->sum.data() + begin);
    if (with_isum) {
      for (int64_t b = begin; b < end; ++b) {
        const int8_t* q = acts->q.data() + b * kQ8Block;
        // Two loops into two locals, which the compiler vectorizes: a `half[j / 16] +=` form
        // compiled to a load-add-store chain on the stack, ~3 % of a Q4_0 prefill's samples.
        int32_t lo = 0, hi = 0;
        for (int j = 0; j < kQ8Block / 2; ++j) lo += q[j];
        for (int j = kQ8Block / 2; j < kQ8Block; ++j) hi += q[j];
        acts->isum16[2 * b] = lo;
        acts->isum16[2 * b + 1] = hi;
        acts->isum[b] = lo + hi;
      }
    }
    if (panel_offset == 0) return;
    const int8_t* q = acts->q.data();
    for (int64_t g = begin * (kQ8Block / 4); g < end * (kQ8Block / 4); ++g) {
      acts->offset4[g] = -panel_offset * (q[4 * g] + q[4 * g + 1] + q[4 * g + 2] + q[4 * g + 3]);
    }
  };
  // Cheap next to the product (O(tokens * in) vs O(tokens * in * out)): only worth threads
  // for prefill-sized batches.
  ForRange(tokens >= 8 ? pool : nullptr, blocks, quantize);
}

// An output element from its float64 sum: rounded to float, then to bf16 when `round_bf16`.
inline float ToOutput(double sum, bool round_bf16) {
  const float y = static_cast<float>(sum);
  return round_bf16 ? ops::RoundBf16(y) : y;
}

// X's n values as bf16 (their upper 16 bits) into `out`, if every one is bf16-exact (its lower 16
// bits zero, as every Linear input is under the `reference` policy); false otherwise (`out` is
// then unspecified). The BF16 GEMV then streams half the activation bytes through L1 next to the
// weights, for the same products (docs/kernels-cpu.md, "Long rows").
bool CopyIfBf16Exact(const float* X, int64_t n, std::vector<uint16_t>* out) {
  out->resize(static_cast<size_t>(n));
  uint32_t low = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, X + i, 4);
    low |= bits & 0xFFFFu;
    (*out)[static_cast<size_t>(i)] = static_cast<uint16_t>(bits >> 16);
  }
  return low == 0;
}

// Everything one tile needs; shared read-only by all threads.
struct Problem {
  const KernelTable* k;
  GgmlType type;
  const uint8_t* w;
  int64_t row_bytes;
  int64_t block_elems, block_bytes;
  int64_t in, out, tokens;
  const float* x;               // exact path
  const Q8Activations* acts;    // integer path (nullptr: exact path)
  float* y;
  bool round_bf16;              // MatMulOptions::round_bf16
  const uint16_t* x_bf16 = nullptr;  // BF16 GEMV: x as bf16 when every x is bf16-exact (else null)
  // BF16 only: W is packed in tiles of kRowTile rows (internal::Bf16TileOffset; PackedMatrix),
  // tile q at w + q * kRowTile * row_bytes, not in GGUF rows.
  bool bf16_tiles = false;
  // Y[t][o] from its float64 sum: to float, then to bf16 when asked.
  void Store(int64_t t, int64_t o, double sum) const { y[t * out + o] = ToOutput(sum, round_bf16); }
};

// Whether a product of `tokens` tokens takes the BF16 GEMV (ComputeBf16GemvTile): the rows read
// in place and widened in registers.
bool UsesBf16Gemv(const Problem& p, int64_t tokens) {
  return p.type == GgmlType::kBF16 &&
         (p.bf16_tiles ? p.k->dot_bf16_tile != nullptr : p.k->dot_bf16 != nullptr) &&
         p.in % 8 == 0 && tokens <= kTokenTile;
}

// Weights are streamed with software prefetches of the NEXT row tile, issued while this one is
// computed. Why: a tile reads its 4 rows side by side, i.e. 4 short streams (1.5-6 KiB each at
// E2B's widths) that restart at every tile; the hardware prefetchers lose them, and a decode
// step's GEMVs read DRAM at a third of what a plain sweep gets (matmul_bench --decode: Q8_0
// 5.3 GB/s without, 14 GB/s with, floor 15 GB/s on a busy machine). The next tile's rows start
// exactly kRowTile rows further on. The integer kernels interleave the hints with their block
// loop (a burst of them per segment was measured no better than none: the miss queue fills).
// Returns the distance in bytes, or 0 when no full tile follows (never past the matrix).
int64_t NextTileDistance(const Problem& p, int64_t row0) {
  return row0 + 2 * kRowTile <= p.out ? kRowTile * p.row_bytes : 0;
}

// Integer-path GEMV tile: rows [row0, row0 + R) of token t0 in one kernel call over the whole
// row (the kernel still adds into float64 chunk by chunk, so this equals the chunked walk).
void ComputeGemvTile(const Problem& p, int64_t row0, int R, int64_t t0) {
  double acc[kRowTile] = {};
  const uint8_t* w[kRowTile];
  for (int r = 0; r < R; ++r) w[r] = p.w + (row0 + r) * p.row_bytes;
  const Q8Act x = p.acts->At(t0, 0);
  // One row at a time, each whole: the tile's bytes are then one sequential run (the rows are
  // adjacent), which the hardware prefetchers stream far better than 4 interleaved short rows
  // (decode sweep on Zen 4: Q8_0 21.6 -> 32.1 GB/s, Q4_K 13.9 -> 16.4, Q6_K 15.1 -> 17.3). The
  // sums are the same: a row's arithmetic never depends on the other rows of its tile.
  for (int r = 0; r < R; ++r) {
    p.k->dot_q8(p.type, w + r, 1, &x, 1, p.in, acc + r, 1, NextTileDistance(p, row0));
  }
  for (int r = 0; r < R; ++r) p.Store(t0, row0 + r, acc[r]);
}

// BF16 rows x up to kTokenTile tokens (decode): each row whole, chunk after chunk, widened in
// registers (dot_bf16), so the tile's bytes are read as one sequential run; ComputeTile's
// chunk-interleaved walk over 4 rows read 4 short streams and ran at half the bandwidth. Every
// (row, token) pair gets the chunked walk's sums: the same FMAs per chunk, chunks in float64.
void ComputeBf16GemvTile(const Problem& p, int64_t row0, int R, int64_t t0, int64_t nt) {
  const float* x[kTokenTile];
  const uint16_t* xb[kTokenTile];
  for (int64_t t = 0; t < nt; ++t) {
    x[t] = p.x + (t0 + t) * p.in;
    if (p.x_bf16 != nullptr) xb[t] = p.x_bf16 + (t0 + t) * p.in;
  }
  if (p.bf16_tiles) {  // the tile's 4 rows in one pass (padding rows past `out` are zero)
    double acc[kRowTile * kTokenTile] = {};
    p.k->dot_bf16_tile(p.w + row0 * p.row_bytes, x, p.x_bf16 != nullptr ? xb : nullptr,
                       static_cast<int>(nt), p.in, acc);
    for (int r = 0; r < R; ++r) {
      for (int64_t t = 0; t < nt; ++t) p.Store(t0 + t, row0 + r, acc[r * kTokenTile + t]);
    }
    return;
  }
  for (int r = 0; r < R; ++r) {
    double acc[kTokenTile] = {};
    const uint8_t* w = p.w + (row0 + r) * p.row_bytes;
    if (p.x_bf16 != nullptr) {
      p.k->dot_bf16x(w, xb, static_cast<int>(nt), p.in, acc);
    } else {
      p.k->dot_bf16(w, x, static_cast<int>(nt), p.in, acc);
    }
    for (int64_t t = 0; t < nt; ++t) p.Store(t0 + t, row0 + r, acc[t]);
  }
}

// Elements [i0, i0 + n) (one chunk; n a multiple of 8) of rows 0..R-1 of the packed BF16 tile
// at `tile` widened into dst[r] in order: the chunk's bytes read front to back, each 8-element
// run to its row (the decoder's exact bits << 16). For the GEMM, which reuses each decoded chunk
// across its tokens. KernelTable::decode_bf16_tile where the ISA has it, else this loop
// (vectorized by the compiler for the baseline ISA). Calling KernelTable::decode per run, or
// gathering one row at a time, cost a BF16 prefill 17 %.
void DecodeBf16TileChunk(const KernelTable* k, const uint8_t* tile, int64_t i0, int64_t n, int R,
                         float (*dst)[kChunk]) {
  const uint8_t* src = tile + 2 * kRowTile * i0;
  if (k->decode_bf16_tile != nullptr) return k->decode_bf16_tile(src, n, R, dst);
  for (int64_t run = 0; run < n / 8; ++run) {
    for (int r = 0; r < R; ++r) {
      uint16_t half[8];
      std::memcpy(half, src + 16 * (kRowTile * run + r), sizeof(half));
      uint32_t bits[8];
      for (int j = 0; j < 8; ++j) bits[j] = uint32_t(half[j]) << 16;
      std::memcpy(dst[r] + 8 * run, bits, sizeof(bits));
    }
  }
}

// Rows [row0, row0 + R) x tokens [t0, t0 + nt), nt <= kMaxTokenBlock: walks `in` chunk by chunk,
// feeding each chunk of the R rows to all token tiles while it is hot in L1.
void ComputeTile(const Problem& p, int64_t row0, int R, int64_t t0, int64_t nt) {
  if (p.acts != nullptr && nt == 1) return ComputeGemvTile(p, row0, R, t0);
  if (UsesBf16Gemv(p, nt)) return ComputeBf16GemvTile(p, row0, R, t0, nt);
  double acc[kRowTile][kMaxTokenBlock] = {};
  alignas(64) float decoded[kRowTile][kChunk];
  const uint8_t* rows[kRowTile];
  for (int r = 0; r < R; ++r) rows[r] = p.w + (row0 + r) * p.row_bytes;

  for (int64_t i0 = 0; i0 < p.in; i0 += kChunk) {
    const int64_t n = std::min<int64_t>(kChunk, p.in - i0);
    const int64_t byte0 = i0 / p.block_elems * p.block_bytes;
    if (p.acts != nullptr) {
      const uint8_t* w[kRowTile];
      for (int r = 0; r < R; ++r) w[r] = rows[r] + byte0;
      for (int64_t tt = 0; tt < nt; tt += kTokenTile) {
        const int T = static_cast<int>(std::min<int64_t>(kTokenTile, nt - tt));
        Q8Act x[kTokenTile];
        for (int t = 0; t < T; ++t) x[t] = p.acts->At(t0 + tt + t, i0 / kQ8Block);
        // The first token tile streams the chunk in: it prefetches the next tile's chunk.
        p.k->dot_q8(p.type, w, R, x, T, n, &acc[0][tt], kMaxTokenBlock,
                    tt == 0 ? NextTileDistance(p, row0) : 0);
      }
    } else {
      // Exact path: the chunk is decoded up front, so its hints go out together.
      if (const int64_t d = NextTileDistance(p, row0); d > 0 && p.bf16_tiles) {
        internal::PrefetchSpan(rows[0] + kRowTile * byte0 + d, kRowTile * n * 2);
      } else if (d > 0) {
        for (int r = 0; r < R; ++r) {
          internal::PrefetchSpan(rows[r] + byte0 + d, n / p.block_elems * p.block_bytes);
        }
      }
      const float* w[kRowTile];
      if (p.bf16_tiles) DecodeBf16TileChunk(p.k, rows[0], i0, n, R, decoded);
      for (int r = 0; r < R; ++r) {
        if (p.type == GgmlType::kF32 && nt <= kTokenTile) {
          // GEMV: in place (unaligned is fine). For GEMM the chunk is copied like the decoded
          // types: rows `in` floats apart alias the same L1 sets as the token rows of X.
          w[r] = reinterpret_cast<const float*>(rows[r] + byte0);
        } else if (p.bf16_tiles) {
          w[r] = decoded[r];  // decoded above, the tile's rows at once
        } else {
          p.k->decode(p.type, rows[r] + byte0, n, decoded[r]);
          w[r] = decoded[r];
        }
      }
      for (int64_t tt = 0; tt < nt; tt += kTokenTile) {
        const int T = static_cast<int>(std::min<int64_t>(kTokenTile, nt - tt));
        const float* x[kTokenTile];
        for (int t = 0; t < T; ++t) x[t] = p.x + (t0 + tt + t) * p.in + i0;
        p.k->dot_f32(w, R, x, T, n, &acc[0][tt], kMaxTokenBlock);
      }
    }
  }
  for (int64_t t = 0; t < nt; ++t) {
    for (int r = 0; r < R; ++r) p.Store(t0 + t, row0 + r, acc[r][t]);
  }
}

// Row tiles [tile_begin, tile_end): for each token block, every tile of the range, so the
// block's activations stay in cache while the range's weights stream past once per block.
void ComputeRowTiles(const Problem& p, int64_t tile_begin, int64_t tile_end) {
  const int64_t bytes_per_token = p.acts != nullptr ? Q8BytesPerToken(p.in) : p.in * 4;
  const int64_t token_block = TokenBlock(bytes_per_token, kTokenTile);
  for (int64_t t0 = 0; t0 < p.tokens; t0 += token_block) {
    const int64_t nt = std::min(token_block, p.tokens - t0);
    for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
      const int64_t row0 = tile * kRowTile;
      ComputeTile(p, row0, static_cast<int>(std::min<int64_t>(kRowTile, p.out - row0)), t0, nt);
    }
  }
}

// ---- Panel GEMM: kPanelRows rows packed per chunk, reused by every token of the block ------

using internal::kPanelRows;
using internal::PanelChunk;

// Below this many tokens the packing (per chunk of 8 rows, once per token block) is not repaid.
constexpr int64_t kMinPanelTokens = 8;

// Rows [row0, row0 + 8) (those past `out` repeat the last row; their results are dropped) x
// tokens [t0, t0 + nt): per chunk, the 8 rows are packed once and every token's product taken
// against the packed chunk.
void ComputePanel(const Problem& p, int64_t row0, int64_t t0, int64_t nt) {
  alignas(32) double acc[kMaxTokenBlock][kPanelRows] = {};
  alignas(32) PanelChunk chunk;
  const uint8_t* rows[kPanelRows];
  for (int r = 0; r < kPanelRows; ++r) {
    rows[r] = p.w + std::min<int64_t>(row0 + r, p.out - 1) * p.row_bytes;
  }
  const bool next_full = row0 + 2 * kPanelRows <= p.out;
  for (int64_t i0 = 0; i0 < p.in; i0 += kChunk) {
    const int64_t n = std::min<int64_t>(kChunk, p.in - i0);
    const int64_t byte0 = i0 / p.block_elems * p.block_bytes;
    const int64_t bytes = n / p.block_elems * p.block_bytes;
    const uint8_t* w[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r) {
      w[r] = rows[r] + byte0;
      if (next_full) internal::PrefetchSpan(w[r] + kPanelRows * p.row_bytes, bytes);
    }
    p.k->pack_panel(p.type, w, n, &chunk);
    for (int64_t t = 0; t < nt; ++t) {
      p.k->dot_panel(chunk, n, p.acts->At(t0 + t, i0 / kQ8Block),
                     p.acts->Offset4At(t0 + t, i0 / 4), acc[t]);
    }
  }
  const int rows_out = static_cast<int>(std::min<int64_t>(kPanelRows, p.out - row0));
  for (int64_t t = 0; t < nt; ++t) {
    for (int r = 0; r < rows_out; ++r) {
      p.Store(t0 + t, row0 + r, acc[t][r]);
    }
  }
}

// Panels [begin, end), token block by token block as ComputeRowTiles.
void ComputePanels(const Problem& p, int64_t begin, int64_t end) {
  // Sized as the row tiles' blocks (the 64-token cap binds below in ~ 7300). The blocks are
  // balanced (70 tokens: 35 + 35, not 60 + 10): every block repacks the weights, a short one
  // for few tokens.
  const int64_t max_block = std::clamp<int64_t>(kActivationBlockBytes / Q8BytesPerToken(p.in),
                                                kMinPanelTokens, kMaxTokenBlock);
  const int64_t blocks = (p.tokens + max_block - 1) / max_block;
  const int64_t token_block = (p.tokens + blocks - 1) / blocks;
  for (int64_t t0 = 0; t0 < p.tokens; t0 += token_block) {
    const int64_t nt = std::min(token_block, p.tokens - t0);
    for (int64_t panel = begin; panel < end; ++panel) ComputePanel(p, panel * kPanelRows, t0, nt);
  }
}

// ---- Packed panels (packed_matmul.h) ----------------------------------------------------------

// One packed matrix product, shared read-only by the threads (each takes a range of panels).
struct PackedProblem {
  const KernelTable* k;
  const PackedMatrix& W;
  const Q8Activations& acts;
  int64_t tokens;
  float* Y;
  bool round_bf16;

  // Y's rows of panel p (those it has: the last panel may be partial) for tokens [t0, t0 + T),
  // from acc[t * stride + r].
  void StorePanel(int64_t p, int64_t t0, int T, const double* acc, int64_t stride) const {
    using internal::kPackedRows;
    const int rows = static_cast<int>(std::min<int64_t>(kPackedRows, W.out() - p * kPackedRows));
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < rows; ++r) {
        Y[(t0 + t) * W.out() + p * kPackedRows + r] = ToOutput(acc[t * stride + r], round_bf16);
      }
    }
  }
};

// Panel p x tokens [t0, t_end), up to kPackedTokenTile tokens per pass over the panel, whose
// bytes stay in L1/L2 between passes.
void PackedPanelPasses(const PackedProblem& m, int64_t p, int64_t t0, int64_t t_end) {
  using internal::kPackedRows;
  using internal::kPackedTokenTile;
  const int64_t nb = m.W.in() / kQ8Block;
  const int64_t chunk_blocks = kChunk / kQ8Block;
  // One pass over the weights (decode, up to a tile of tokens): they stream from DRAM once, so
  // each chunk's bytes kStreamPrefetchBytes ahead, in the thread's one sequential stream, are
  // prefetched first. (A whole panel ahead, a second stream, cost a third of the bandwidth
  // instead.) Near the end of the matrix the hints point past it: a prefetch never faults, and
  // the lines are dropped unused.
  const bool one_pass = m.tokens <= kPackedTokenTile;
  for (int64_t tt = t0; tt < t_end; tt += kPackedTokenTile) {
    const int T = static_cast<int>(std::min<int64_t>(kPackedTokenTile, t_end - tt));
    double acc[kPackedTokenTile][kPackedRows] = {};
    const uint8_t* chunk = m.W.Panel(p);
    for (int64_t b0 = 0; b0 < nb; b0 += chunk_blocks) {
      const int nbc = static_cast<int>(std::min(chunk_blocks, nb - b0));
      Q8Act x[kPackedTokenTile];
      for (int t = 0; t < T; ++t) x[t] = m.acts.At(tt + t, b0);
      const int64_t chunk_bytes = internal::PackedChunkBytes(m.W.type(), nbc);
      if (one_pass) internal::PrefetchSpan(chunk + internal::kStreamPrefetchBytes, chunk_bytes);
      m.k->dot_packed(m.W.type(), chunk, nbc, x, T, &acc[0][0]);
      chunk += chunk_bytes;
    }
    m.StorePanel(p, tt, T, &acc[0][0], kPackedRows);
  }
}

// Panels p and p + 1 x tokens [t0, t_end) by KernelTable::dot_packed_pair, up to
// kPackedPairTokenTile tokens per pass: the same bits as PackedPanelPasses on each panel.
void PackedPanelPairPasses(const PackedProblem& m, int64_t p, int64_t t0, int64_t t_end) {
  using internal::kPackedPairTokenTile;
  using internal::kPackedRows;
  const int64_t nb = m.W.in() / kQ8Block;
  const int64_t chunk_blocks = kChunk / kQ8Block;
  for (int64_t tt = t0; tt < t_end; tt += kPackedPairTokenTile) {
    const int T = static_cast<int>(std::min<int64_t>(kPackedPairTokenTile, t_end - tt));
    double acc[kPackedPairTokenTile][2 * kPackedRows] = {};
    const uint8_t* chunk_a = m.W.Panel(p);
    const uint8_t* chunk_b = m.W.Panel(p + 1);
    for (int64_t b0 = 0; b0 < nb; b0 += chunk_blocks) {
      const int nbc = static_cast<int>(std::min(chunk_blocks, nb - b0));
      Q8Act x[kPackedPairTokenTile];
      for (int t = 0; t < T; ++t) x[t] = m.acts.At(tt + t, b0);
      m.k->dot_packed_pair(m.W.type(), chunk_a, chunk_b, nbc, x, T, &acc[0][0]);
      const int64_t chunk_bytes = internal::PackedChunkBytes(m.W.type(), nbc);
      chunk_a += chunk_bytes;
      chunk_b += chunk_bytes;
    }
    m.StorePanel(p, tt, T, &acc[0][0], 2 * kPackedRows);
    m.StorePanel(p + 1, tt, T, &acc[0][kPackedRows], 2 * kPackedRows);
  }
}

// Panels [begin, end) of W x every token, token block by token block (the block's activations
// stay in cache while the range's panels stream past once per block). Batches of several passes
// take the panels two at a time where the ISA has the pair kernel (Q8_0, Q4_0, Q4_K); decode (one
// pass) keeps one panel at a time: two panels read side by side are two streams from DRAM,
// which this kernel's memory-bound case reads worse (docs/kernels-cpu.md, "Panel pairs").
void ComputePackedPanels(const PackedProblem& m, int64_t begin, int64_t end) {
  const bool pairs = m.tokens > internal::kPackedTokenTile && m.k->dot_packed_pair != nullptr &&
                     (m.W.type() == GgmlType::kQ8_0 || m.W.type() == GgmlType::kQ4_0 ||
                      m.W.type() == GgmlType::kQ4_K);
  const int64_t token_block =
      TokenBlock(Q8BytesPerToken(m.W.in()), pairs ? internal::kPackedPairTokenTile
                                                  : internal::kPackedTokenTile);
  for (int64_t t0 = 0; t0 < m.tokens; t0 += token_block) {
    const int64_t t_end = std::min(m.tokens, t0 + token_block);
    int64_t p = begin;
    if (pairs) {
      for (; p + 1 < end; p += 2) PackedPanelPairPasses(m, p, t0, t_end);
    }
    for (; p < end; ++p) PackedPanelPasses(m, p, t0, t_end);
  }
}

}  // namespace

bool CpuHasAvx2() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  }();
  return has && internal::Avx2Kernels() != nullptr;
#else
  return false;
#endif
}

namespace {

#if defined(__x86_64__) || defined(__i386__)
// Whether the CPU has what internal::Avx512VnniKernels() needs besides AVX2: the EVEX vpdpbusd
// (AVX512-VNNI) on 256-bit registers (AVX512VL, AVX512F). Also the base of Bf16PairKernels().
bool CpuHasEvexVnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512f");
}
#endif

// The 256-bit vpdpbusd table this CPU can run: the VEX form (AVX-VNNI), else the EVEX form
// (AVX512-VNNI + AVX512VL: Zen 4, Ice Lake servers), the same bits; nullptr without either.
const KernelTable* VnniKernels() {
#if defined(__x86_64__) || defined(__i386__)
  static const KernelTable* table = []() -> const KernelTable* {
    __builtin_cpu_init();
    if (!CpuHasAvx2()) return nullptr;
    if (__builtin_cpu_supports("avxvnni")) return internal::AvxVnniKernels();
    if (CpuHasEvexVnni()) return internal::Avx512VnniKernels();
    return nullptr;
  }();
  return table;
#else
  return nullptr;
#endif
}

}  // namespace

bool CpuHasAvxVnni() { return VnniKernels() != nullptr; }

namespace {

// The EVEX vpdpbusd table with the BF16 pair products, when this CPU has all they need
// (Isa::kAvx512Bf16); nullptr otherwise.
const KernelTable* Bf16PairKernels() {
#if defined(__x86_64__) || defined(__i386__)
  static const KernelTable* table = []() -> const KernelTable* {
    if (!CpuHasAvx2() || !CpuHasEvexVnni() || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512bf16")) {
      return nullptr;
    }
    return internal::Avx512Bf16Kernels();
  }();
  return table;
#else
  return nullptr;
#endif
}

}  // namespace

bool CpuHasAvx512Bf16() { return Bf16PairKernels() != nullptr; }

namespace {

// The kernel table `isa` asks for on this CPU, or FailedPrecondition.
absl::StatusOr<const KernelTable*> SelectKernels(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return &internal::PortableKernels();
    case Isa::kAvx2:
      if (!CpuHasAvx2()) {
        return absl::FailedPreconditionError("MatMul: AVX2 kernels requested on a CPU without AVX2");
      }
      return internal::Avx2Kernels();
    case Isa::kAvxVnni:
      if (!CpuHasAvxVnni()) {
        return absl::FailedPreconditionError(
            "MatMul: AVX-VNNI kernels requested on a CPU without AVX-VNNI");
      }
      return VnniKernels();
    case Isa::kAvx512Bf16:
      if (!CpuHasAvx512Bf16()) {
        return absl::FailedPreconditionError(
            "MatMul: AVX512_BF16 kernels requested on a CPU without AVX512_BF16 (and "
            "AVX512-VNNI, AVX512BW, AVX512VL)");
      }
      return Bf16PairKernels();
    case Isa::kAuto:
      if (CpuHasAvx512Bf16()) return Bf16PairKernels();
      if (CpuHasAvxVnni()) return VnniKernels();
      if (CpuHasAvx2()) return internal::Avx2Kernels();
      return &internal::PortableKernels();
  }
  return absl::InvalidArgumentError("MatMul: unknown Isa");
}

// Whether `p` takes the BF16 pair products (KernelTable::dot_bf16_pairs) once its activations
// are known to be bf16-exact.
bool UsesBf16Pairs(const Problem& p) {
  return p.bf16_tiles && p.k->dot_bf16_pairs != nullptr && p.in % 8 == 0;
}

// Packed BF16 tiles [tile_begin, tile_end) x all tokens by the pair products (p.x_bf16 set).
// Tokens go in blocks whose bf16 activations stay in L2 (kActivationBlockBytes); in a block, each
// pair of tiles is taken against kBf16PairTokens tokens per call, so its weights are read from
// L2 once per such group and each weight register feeds that many tokens. A GEMV (tokens <=
// kTokenTile) takes one tile per call: one sequential stream, as the other decode kernels read.
void ComputeBf16PairTiles(const Problem& p, int64_t tile_begin, int64_t tile_end) {
  constexpr int kGroup = internal::kBf16PairTokens;
  const int64_t tile_bytes = kRowTile * p.row_bytes;
  const int64_t step = p.tokens <= kTokenTile ? 1 : 2;
  const int64_t token_block =
      std::max<int64_t>(kActivationBlockBytes / (2 * p.in) / kGroup, 1) * kGroup;
  for (int64_t t0 = 0; t0 < p.tokens; t0 += token_block) {
    const int64_t t_end = std::min(p.tokens, t0 + token_block);
    for (int64_t q = tile_begin; q < tile_end; q += step) {
      const int ntiles = static_cast<int>(std::min(step, tile_end - q));
      for (int64_t tt = t0; tt < t_end; tt += kGroup) {
        const int T = static_cast<int>(std::min<int64_t>(kGroup, t_end - tt));
        const uint16_t* xb[kGroup];
        for (int t = 0; t < T; ++t) xb[t] = p.x_bf16 + (tt + t) * p.in;
        double acc[kGroup][2 * kRowTile];  // [token][row], set by the kernel
        p.k->dot_bf16_pairs(p.w + q * tile_bytes, tile_bytes, ntiles, xb, T, p.in, &acc[0][0],
                            2 * kRowTile);
        const int64_t row0 = q * kRowTile;
        const int rows = static_cast<int>(std::min<int64_t>(ntiles * kRowTile, p.out - row0));
        for (int t = 0; t < T; ++t) {
          for (int r = 0; r < rows; ++r) p.Store(tt + t, row0 + r, acc[t][r]);
        }
      }
    }
  }
}

// The row tiles of `p` (the exact path, or the integer path without panels) on `pool`. A BF16
// GEMV with bf16-exact activations reads them as bf16 (dot_bf16x, dot_bf16_tile); packed BF16
// tiles against bf16-exact activations take the pair products where the table has them, GEMV
// and GEMM alike (one summation order per (row, token) whatever the batch).
void RunRowTiles(Problem* p, ThreadPool* pool) {
  thread_local std::vector<uint16_t> x_bf16;  // the caller's; workers get the pointer
  const bool pairs = UsesBf16Pairs(*p);
  if ((pairs ||
       (UsesBf16Gemv(*p, p->tokens) && (p->bf16_tiles || p->k->dot_bf16x != nullptr))) &&
      CopyIfBf16Exact(p->x, p->tokens * p->in, &x_bf16)) {
    p->x_bf16 = x_bf16.data();
  }
  const int64_t tiles = (p->out + kRowTile - 1) / kRowTile;
  if (pairs && p->x_bf16 != nullptr) {
    ForRange(pool, tiles, [&](int64_t b, int64_t e) { ComputeBf16PairTiles(*p, b, e); });
    return;
  }
  ForRange(pool, tiles, [&](int64_t b, int64_t e) { ComputeRowTiles(*p, b, e); });
}

}  // namespace

absl::Status MatMul(GgmlType wtype, const void* W, int64_t in, int64_t out, const float* X,
                    int64_t tokens, float* Y, const MatMulOptions& options) {
  const gguf::TypeTraits& traits = gguf::Traits(wtype);
  if (in <= 0 || out <= 0 || tokens < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("MatMul: bad shape in=", in, " out=", out, " tokens=", tokens));
  }
  if (in % traits.block_elems != 0) {
    return absl::InvalidArgumentError(absl::StrCat("MatMul: in=", in, " is not a multiple of ",
                                                   traits.name, "'s block of ",
                                                   traits.block_elems));
  }
  if (tokens == 0) return absl::OkStatus();
  if (W == nullptr || X == nullptr || Y == nullptr) {
    return absl::InvalidArgumentError("MatMul: null pointer");
  }

  const absl::StatusOr<const KernelTable*> selected = SelectKernels(options.isa);
  if (!selected.ok()) return selected.status();
  const KernelTable* kernels = *selected;

  Q8Activations& acts = CallerActivations();
  const bool integer_path =
      IsQuantized(wtype) && options.activations == ActivationPrecision::kQ8;
  const int32_t panel_offset =
      integer_path && kernels->panel_offset != nullptr && tokens >= kMinPanelTokens
          ? kernels->panel_offset(wtype)
          : -1;
  const bool panel_path = panel_offset >= 0;
  if (integer_path) {
    QuantizeActivations(kernels, X, in, tokens, std::max(panel_offset, 0), /*with_isum=*/false,
                        options.pool, &acts);
  }

  Problem p{kernels,
            wtype,
            static_cast<const uint8_t*>(W),
            in / traits.block_elems * traits.block_bytes,
            traits.block_elems,
            traits.block_bytes,
            in,
            out,
            tokens,
            X,
            integer_path ? &acts : nullptr,
            Y,
            options.round_bf16};
  if (panel_path) {
    ForRange(options.pool, (out + kPanelRows - 1) / kPanelRows,
             [&](int64_t b, int64_t e) { ComputePanels(p, b, e); });
  } else {
    RunRowTiles(&p, options.pool);
  }
  return absl::OkStatus();
}

namespace {

// The BF16 tiles of a packed matrix (internal::Bf16TileOffset): the exact path's row tiles on
// that layout, the same sums as MatMul on the GGUF rows.
absl::Status MatMulPackedBf16(const KernelTable* kernels, const PackedMatrix& W, const float* X,
                              int64_t tokens, float* Y, const MatMulOptions& options) {
  Problem p{kernels,
            GgmlType::kBF16,
            W.Panel(0),
            /*row_bytes=*/2 * W.in(),
            /*block_elems=*/1,
            /*block_bytes=*/2,
            W.in(),
            W.out(),
            tokens,
            X,
            /*acts=*/nullptr,
            Y,
            options.round_bf16};
  p.bf16_tiles = true;
  RunRowTiles(&p, options.pool);
  return absl::OkStatus();
}

}  // namespace

absl::Status MatMulPacked(const PackedMatrix& W, const float* X, int64_t tokens, float* Y,
                          const MatMulOptions& options) {
  if (tokens < 0) return absl::InvalidArgumentError(absl::StrCat("MatMulPacked: tokens=", tokens));
  if (W.empty()) return absl::InvalidArgumentError("MatMulPacked: empty (moved-from) matrix");
  if (tokens == 0) return absl::OkStatus();
  if (X == nullptr || Y == nullptr) return absl::InvalidArgumentError("MatMulPacked: null pointer");
  const absl::StatusOr<const KernelTable*> selected = SelectKernels(options.isa);
  if (!selected.ok()) return selected.status();
  const KernelTable* kernels = *selected;
  if (W.type() == GgmlType::kBF16) return MatMulPackedBf16(kernels, W, X, tokens, Y, options);
  Q8Activations& acts = CallerActivations();
  QuantizeActivations(kernels, X, W.in(), tokens, /*panel_offset=*/0, /*with_isum=*/true,
                      options.pool, &acts);
  const PackedProblem m{kernels, W, acts, tokens, Y, options.round_bf16};
  ForRange(options.pool, W.panels(), [&](int64_t b, int64_t e) { ComputePackedPanels(m, b, e); });
  return absl::OkStatus();
}

}  // namespace g4::cpu
