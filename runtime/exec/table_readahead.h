// Readahead of the lookup tables a session reads from the GGUF mapping at random rows.
//
// The matrices are copied out of the mapping at load (packed_weights.h); the embedding tables
// (token_embd for Embed, per_layer_token_embd: 1.3 GB at Q4_0, 4.7 GB at BF16 in E2B) stay in it
// and are read one row per token. A row whose page is not in the page cache faults in from disk
// during the step (measured on E2B Q4_0 with a cold file: 4.8 ms of a 50 ms decode token, every
// token, since each new token is a new row). llama.cpp reads its whole file in when it maps it
// (MAP_POPULATE or POSIX_MADV_WILLNEED); this asks for the tables only, which is what is read
// through the mapping after load. The readahead is asynchronous, costs page cache (which the
// kernel may reclaim) and no resident memory of this process, and changes no bit.
#ifndef GEMMA4C_RUNTIME_EXEC_TABLE_READAHEAD_H_
#define GEMMA4C_RUNTIME_EXEC_TABLE_READAHEAD_H_

#include <cstdint>
#include <vector>

#include "exec/kernel_abi.h"
#include "plan/plan_generated.h"

namespace g4::exec {

// madvise(MADV_WILLNEED) over the mapped bytes of every table an Embed step reads, each table
// once, when they all fit in `available_bytes` (0: unknown, then nothing is advised: a table
// larger than memory would only evict itself). Returns the bytes advised. A hint: an error
// from madvise is ignored.
uint64_t AdviseEmbeddingTables(const plan::Plan& plan, const std::vector<g4k_weight>& weights,
                               uint64_t available_bytes);

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_TABLE_READAHEAD_H_
