// Prints llama.cpp's logits for a token sequence: the comparison column of bench/recipes.py.
// Built by recipes.py against a llama.cpp tree (headers) and its libllama; not part of the
// gemma4c build.
//   llama_logits MODEL.gguf TOKENS(comma-separated) OUT.bin THREADS
// OUT.bin: float32 [n_tokens][n_vocab], row t = the logits after token t (one batch, causal).
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "llama.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s MODEL.gguf TOKENS OUT.bin THREADS\n", argv[0]);
    return 2;
  }
  std::vector<llama_token> tokens;
  std::stringstream ss(argv[2]);
  for (std::string t; std::getline(ss, t, ',');) tokens.push_back(std::atoi(t.c_str()));
  llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (model == nullptr) {
    std::fprintf(stderr, "%s: llama.cpp cannot load the model\n", argv[1]);
    return 1;
  }
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(tokens.size() + 8);
  cp.n_batch = cp.n_ubatch = static_cast<uint32_t>(tokens.size());
  cp.n_threads = cp.n_threads_batch = std::atoi(argv[4]);
  llama_context* ctx = llama_init_from_model(model, cp);
  if (ctx == nullptr) {
    std::fprintf(stderr, "%s: cannot create a context\n", argv[1]);
    return 1;
  }
  llama_batch batch = llama_batch_init(static_cast<int32_t>(tokens.size()), 0, 1);
  for (size_t i = 0; i < tokens.size(); ++i) {
    batch.token[i] = tokens[i];
    batch.pos[i] = static_cast<llama_pos>(i);
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = static_cast<int32_t>(tokens.size());
  if (llama_decode(ctx, batch) != 0) {
    std::fprintf(stderr, "%s: llama_decode failed\n", argv[1]);
    return 1;
  }
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  FILE* f = std::fopen(argv[3], "wb");
  if (f == nullptr) return 1;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::fwrite(llama_get_logits_ith(ctx, static_cast<int32_t>(i)), sizeof(float), n_vocab, f);
  }
  std::fclose(f);
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
