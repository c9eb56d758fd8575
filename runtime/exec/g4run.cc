// g4run: runs a compiled plan on a GGUF model through libg4rt's C API.
//
//   g4run OUTDIR --model M.gguf --tokens 2,105,... [--logits-out L.bin] [--dump DIR] [--threads N]
//   g4run OUTDIR --model M.gguf --tokens 2,105,... -n 32      (greedy decode, prints tokens/s)
//
// --logits-out: float32 logits, one row of n_vocab per prompt position, row-major, no header.
// --dump: every named intermediate of the prompt evaluation (DIR/<name>.bin + DIR/index.json).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "exec/g4rt.h"
#include "exec/g4run_text.h"

ABSL_FLAG(std::string, model, "", "GGUF model file");
ABSL_FLAG(std::string, tokens, "", "prompt token ids, comma separated");
ABSL_FLAG(std::string, logits_out, "", "write the prompt's logits (float32 [n_tokens][n_vocab])");
ABSL_FLAG(std::string, dump, "", "write every named intermediate of the prompt to this directory");
ABSL_FLAG(int, threads, 0, "worker threads including the caller (0: one per core)");
ABSL_FLAG(int, n, -1, "tokens to generate after the prompt (0: none; default: none with --tokens, "
                       "up to 256 in text mode)");
ABSL_FLAG(int, chunk, 0, "evaluate the prompt in batches of this many tokens (1 = token by token); "
                         "0 = one batch. --logits-out then holds every prompt position's row");
ABSL_FLAG(int64_t, depth, 0, "evaluate this many tokens (the prompt repeated; in --chunk "
                             "batches) before the prompt, timed apart: the prefill figures are "
                             "then those at depth D, as llama-bench -d D");
ABSL_FLAG(bool, chunk_times, false, "print each prompt chunk's position, tokens/s and the "
                                    "process's peak RSS to stderr (long prompts)");
ABSL_FLAG(bool, profile, false, "CPU: time every plan step and print the time per kind of step "
          "(summed over layers) for the prompt and for the decode");
ABSL_FLAG(bool, exact_quantized, false, "fp32 activations against quantized weights");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda (the CUDA backend; an error when built without CUDA)");
ABSL_FLAG(bool, interpret, false, "ignore emitted kernels (the runtime interprets every step)");
ABSL_FLAG(bool, builtin, false, "the old name of --interpret");
ABSL_FLAG(int64_t, max_context, 0, "positions the KV cache holds (0: the model's context length)");
ABSL_FLAG(uint64_t, memory_limit, 0, "CPU: bytes the KV cache and activations may take (0: available memory)");
ABSL_FLAG(bool, portable_kernels, false, "use the portable build of the emitted kernels even on AVX2");
ABSL_FLAG(bool, repack, true,
          "CPU: repack Q8_0/Q4_0/Q4_K/Q6_K/BF16 matrices into panels at open (--norepack: GGUF "
          "layout; for BF16 also the fp32 summation order where the CPU has AVX512_BF16)");
// Text mode (runtime/text): the prompt through the tokenizer and the Gemma 4 chat template.
ABSL_FLAG(std::string, prompt, "", "text prompt (one user turn); streams the model's answer");
ABSL_FLAG(bool, chat, false, "interactive chat: user turns from stdin, one per line, KV cache kept");
ABSL_FLAG(std::string, system, "", "system turn");
ABSL_FLAG(bool, think, false, "thinking on (<|think|> in the system turn)");
ABSL_FLAG(bool, raw, false, "send --prompt as is, without the chat template");
ABSL_FLAG(float, temp, 1.0f, "sampling temperature; 0 = greedy");
ABSL_FLAG(int, top_k, 64, "top-k (0 = off)");
ABSL_FLAG(float, top_p, 0.95f, "top-p (1 = off)");
ABSL_FLAG(float, min_p, 0.0f, "min-p (0 = off)");
ABSL_FLAG(float, repeat_penalty, 1.0f, "repetition penalty (1 = off)");
ABSL_FLAG(uint64_t, seed, 0, "sampling seed");
ABSL_FLAG(bool, verbose, false, "text mode: print the token ids of prompts and answers to stderr");

namespace {

using Clock = std::chrono::steady_clock;

int Fail(g4rt_status* st) {
  std::fprintf(stderr, "g4run: %s\n", g4rt_status_message(st));
  g4rt_status_free(st);
  return 1;
}

bool ParseTokens(const std::string& text, std::vector<int32_t>* out) {
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int32_t v;
    if (!absl::SimpleAtoi(piece, &v)) return false;
    out->push_back(v);
  }
  return !out->empty();
}

int32_t Argmax(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (row[i] > row[best]) best = i;
  return int32_t(best);
}

// The command line spells flags with dashes (--logits-out); absl names them with underscores.
std::vector<std::string> DashesToUnderscores(int argc, char** argv) {
  std::vector<std::string> out(argv, argv + argc);
  for (std::string& a : out) {
    if (a.size() < 3 || a[0] != '-') continue;
    size_t end = a.find('=');
    for (size_t i = 2; i < std::min(end, a.size()); ++i)
      if (a[i] == '-') a[i] = '_';
  }
  return out;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Peak resident set of this process so far, in MB (Linux reports ru_maxrss in KiB).
double PeakRssMb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

// Prints one chunk's figures (--chunk-times) to stderr.
void PrintChunkTime(int64_t at, int64_t n, Clock::time_point c0) {
  const double s = Seconds(c0, Clock::now());
  std::fprintf(stderr, "chunk at %lld: %lld tokens in %.3f s = %.2f tok/s; peak RSS %.0f MB\n",
               static_cast<long long>(at), static_cast<long long>(n), s, n / s, PeakRssMb());
}

// `depth` tokens of the prompt repeated, evaluated before the timed prompt (llama-bench -d), in
// batches of `chunk` (0: one call, which the runtime chunks by the plan's max batch): the KV
// cache then holds them, so the prompt's figures are those at that depth.
g4rt_status* FillDepth(g4rt_session* session, const std::vector<int32_t>& prompt, int64_t depth,
                       int64_t chunk, bool chunk_times) {
  std::vector<int32_t> fill(static_cast<size_t>(depth));
  for (int64_t i = 0; i < depth; ++i) fill[i] = prompt[size_t(i) % prompt.size()];
  if (chunk <= 0) chunk = depth;
  auto t0 = Clock::now();
  for (int64_t at = 0; at < depth; at += chunk) {
    const int64_t n = std::min(chunk, depth - at);
    auto c0 = Clock::now();
    if (g4rt_status* st = g4rt_eval(session, fill.data() + at, n)) return st;
    if (chunk_times) PrintChunkTime(at, n, c0);
  }
  const double seconds = Seconds(t0, Clock::now());
  std::printf("depth: %lld tokens in %.3f s = %.2f tok/s\n", static_cast<long long>(depth), seconds,
              depth / seconds);
  return nullptr;
}

// A step's kind: its first output's name without the layer number ("ffn_gate-12" ->
// "ffn_gate", "mul-3.bf16" -> "mul.bf16"), so that one row sums a kind over the layers.
std::string StepKind(const g4rt_step_time& t) {
  std::string name = t.name;
  if (t.layer < 0) return name;
  for (const char* sep : {"-", "_"}) {
    const std::string mark = absl::StrCat(sep, t.layer);
    for (size_t at = name.find(mark); at != std::string::npos; at = name.find(mark, at + 1)) {
      const size_t after = at + mark.size();
      if (after == name.size() || name[after] == '.') return name.erase(at, mark.size());
    }
  }
  return name;
}

// --profile: the step times since the last reset, by kind, largest first, against `seconds` of
// wall time for `evals` evaluations; then the times are reset.
g4rt_status* PrintProfile(g4rt_session* session, const char* phase, int64_t evals, double seconds) {
  const g4rt_step_time* steps = nullptr;
  int64_t n = 0;
  if (g4rt_status* st = g4rt_step_times(session, &steps, &n)) return st;
  struct Kind {
    std::string name, op;
    int64_t calls = 0, layers = 0;
    double seconds = 0;
  };
  std::vector<Kind> kinds;
  absl::flat_hash_map<std::string, size_t> index;
  double in_steps = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (steps[i].calls == 0) continue;
    const std::string key = absl::StrCat(StepKind(steps[i]), "/", steps[i].op);
    auto [it, fresh] = index.try_emplace(key, kinds.size());
    if (fresh) kinds.push_back({StepKind(steps[i]), steps[i].op});
    Kind& k = kinds[it->second];
    k.calls += steps[i].calls;
    k.layers += 1;
    k.seconds += steps[i].seconds;
    in_steps += steps[i].seconds;
  }
  std::sort(kinds.begin(), kinds.end(), [](const Kind& a, const Kind& b) { return a.seconds > b.seconds; });
  std::printf("profile %s: %lld evals in %.3f s; in steps %.3f s, between steps %.3f s\n", phase,
              static_cast<long long>(evals), seconds, in_steps, seconds - in_steps);
  std::printf("  %-24s %-12s %6s %8s %10s %9s %6s\n", "step", "op", "steps", "calls", "total ms",
              "ms/eval", "%");
  for (const Kind& k : kinds) {
    std::printf("  %-24s %-12s %6lld %8lld %10.2f %9.3f %5.1f%%\n", k.name.c_str(), k.op.c_str(),
                static_cast<long long>(k.layers), static_cast<long long>(k.calls), 1e3 * k.seconds,
                1e3 * k.seconds / double(std::max<int64_t>(1, evals)), 100.0 * k.seconds / seconds);
  }
  return g4rt_reset_step_times(session);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("g4run OUTDIR --model M.gguf --tokens 2,105,... [--logits-out F] [--dump DIR] [-n N]");
  std::vector<std::string> spelled = DashesToUnderscores(argc, argv);
  std::vector<char*> raw;
  for (std::string& a : spelled) raw.push_back(a.data());
  std::vector<char*> args = absl::ParseCommandLine(int(raw.size()), raw.data());
  std::vector<int32_t> prompt;
  const bool text_mode = !absl::GetFlag(FLAGS_prompt).empty() || absl::GetFlag(FLAGS_chat);
  if (args.size() != 2 || absl::GetFlag(FLAGS_model).empty() ||
      (!text_mode && !ParseTokens(absl::GetFlag(FLAGS_tokens), &prompt))) {
    std::fprintf(stderr, "usage: g4run OUTDIR --model M.gguf --tokens 2,105,... [--logits-out F] [--dump DIR] [-n N]\n"
                         "       g4run OUTDIR --model M.gguf --prompt TEXT | --chat [--system TEXT] [--temp T] ...\n");
    return 2;
  }
  g4rt_options options;
  g4rt_options_init(&options);
  options.threads = absl::GetFlag(FLAGS_threads) > 0 ? absl::GetFlag(FLAGS_threads)
                                                     : int(std::max(1u, std::thread::hardware_concurrency()));
  options.exact_quantized_matmul = absl::GetFlag(FLAGS_exact_quantized);
  options.force_interpreted = absl::GetFlag(FLAGS_interpret) || absl::GetFlag(FLAGS_builtin);
  options.keep_intermediates = !absl::GetFlag(FLAGS_dump).empty();
  // Every prompt position's logits only where they are written out; else the LM head runs on
  // the last position alone.
  const bool all_logits = !absl::GetFlag(FLAGS_logits_out).empty();
  options.all_logits = all_logits;
  options.portable_kernels = absl::GetFlag(FLAGS_portable_kernels);
  options.gguf_layout = absl::GetFlag(FLAGS_repack) ? 0 : 1;
  options.profile_steps = absl::GetFlag(FLAGS_profile);
  options.max_context = absl::GetFlag(FLAGS_max_context);
  options.memory_limit = int64_t(absl::GetFlag(FLAGS_memory_limit));
  if (absl::GetFlag(FLAGS_device) == "cuda") {
    if (absl::GetFlag(FLAGS_profile)) {
      std::fprintf(stderr, "g4run: --profile times the CPU backend's steps only (CUDA's run asynchronously)\n");
      return 2;
    }
    options.device = G4RT_DEVICE_CUDA;
  } else if (absl::GetFlag(FLAGS_device) != "cpu") {
    std::fprintf(stderr, "g4run: --device must be cpu or cuda\n");
    return 2;
  }
  g4rt_session* session = nullptr;
  if (g4rt_status* st = g4rt_open(args[1], absl::GetFlag(FLAGS_model).c_str(), &options, &session))
    return Fail(st);
  // Closed on every path out, the error paths included.
  std::unique_ptr<g4rt_session, void (*)(g4rt_session*)> closer(session, &g4rt_close);

  if (text_mode) {
    g4::run::TextOptions t;
    t.model_path = absl::GetFlag(FLAGS_model);
    t.prompt = absl::GetFlag(FLAGS_prompt);
    t.system = absl::GetFlag(FLAGS_system);
    t.chat = absl::GetFlag(FLAGS_chat);
    t.think = absl::GetFlag(FLAGS_think);
    t.raw = absl::GetFlag(FLAGS_raw);
    if (absl::GetFlag(FLAGS_n) >= 0) t.max_new_tokens = absl::GetFlag(FLAGS_n);
    t.sampling.temperature = absl::GetFlag(FLAGS_temp);
    t.sampling.top_k = absl::GetFlag(FLAGS_top_k);
    t.sampling.top_p = absl::GetFlag(FLAGS_top_p);
    t.sampling.min_p = absl::GetFlag(FLAGS_min_p);
    t.sampling.repetition_penalty = absl::GetFlag(FLAGS_repeat_penalty);
    t.sampling.seed = absl::GetFlag(FLAGS_seed);
    t.verbose = absl::GetFlag(FLAGS_verbose);
    return g4::run::RunText(session, t, stdin, stdout, stderr);
  }

  // The prompt in one call (the runtime chunks what exceeds the plan's max batch) or in the
  // --chunk batches asked for; prompt_logits collects every position's row over the chunks.
  const int64_t chunk = absl::GetFlag(FLAGS_chunk) > 0 ? absl::GetFlag(FLAGS_chunk) : int64_t(prompt.size());
  const int64_t depth = absl::GetFlag(FLAGS_depth);
  if (depth < 0) {
    std::fprintf(stderr, "g4run: --depth must not be negative\n");
    return 2;
  }
  if (depth > 0)
    if (g4rt_status* st = FillDepth(session, prompt, depth, absl::GetFlag(FLAGS_chunk),
                                    absl::GetFlag(FLAGS_chunk_times)))
      return Fail(st);
  const bool profile = absl::GetFlag(FLAGS_profile);
  if (profile)  // the depth fill's steps are not the prompt's
    if (g4rt_status* st = g4rt_reset_step_times(session)) return Fail(st);
  std::vector<float> prompt_logits;
  const float* logits = nullptr;
  int64_t rows = 0, vocab = 0;
  auto t0 = Clock::now();
  for (int64_t at = 0; at < int64_t(prompt.size()); at += chunk) {
    int64_t n = std::min<int64_t>(chunk, int64_t(prompt.size()) - at);
    auto c0 = Clock::now();
    if (g4rt_status* st = g4rt_eval(session, prompt.data() + at, n)) return Fail(st);
    if (g4rt_status* st = g4rt_logits(session, &logits, &rows, &vocab)) return Fail(st);
    if (absl::GetFlag(FLAGS_chunk_times)) PrintChunkTime(depth + at, n, c0);
    if (all_logits && chunk < int64_t(prompt.size()))
      prompt_logits.insert(prompt_logits.end(), logits, logits + rows * vocab);
  }
  auto t1 = Clock::now();
  const int64_t prompt_evals = (int64_t(prompt.size()) + chunk - 1) / chunk;
  if (profile)
    if (g4rt_status* st = PrintProfile(session, "prompt", prompt_evals, Seconds(t0, t1))) return Fail(st);
  if (!prompt_logits.empty()) {
    logits = prompt_logits.data();
    rows = int64_t(prompt_logits.size()) / vocab;
  }

  if (!absl::GetFlag(FLAGS_logits_out).empty()) {
    FILE* f = std::fopen(absl::GetFlag(FLAGS_logits_out).c_str(), "wb");
    if (!f || std::fwrite(logits, sizeof(float), size_t(rows * vocab), f) != size_t(rows * vocab)) {
      std::fprintf(stderr, "g4run: %s: cannot write\n", absl::GetFlag(FLAGS_logits_out).c_str());
      return 1;
    }
    std::fclose(f);
  }
  if (!absl::GetFlag(FLAGS_dump).empty())
    if (g4rt_status* st = g4rt_dump(session, absl::GetFlag(FLAGS_dump).c_str())) return Fail(st);

  const int n = std::max(0, absl::GetFlag(FLAGS_n));
  if (n > 0) {
    std::vector<int32_t> generated;
    int32_t next = Argmax(logits + (rows - 1) * vocab, vocab);
    if (absl::GetFlag(FLAGS_dump).empty() == false && chunk < int64_t(prompt.size()))
      std::fprintf(stderr, "g4run: note: --dump holds the last chunk only\n");
    auto d0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      generated.push_back(next);
      if (i + 1 == n) break;
      if (g4rt_status* st = g4rt_eval(session, &next, 1)) return Fail(st);
      if (g4rt_status* st = g4rt_logits(session, &logits, &rows, &vocab)) return Fail(st);
      next = Argmax(logits, vocab);
    }
    auto d1 = Clock::now();
    std::printf("tokens:");
    for (int32_t t : generated) std::printf(" %d", t);
    std::printf("\n");
    std::printf("prefill: %zu tokens in %.3f s = %.2f tok/s\n", prompt.size(), Seconds(t0, t1),
                prompt.size() / Seconds(t0, t1));
    std::printf("peak RSS: %.0f MB\n", PeakRssMb());
    if (n > 1) {
      const double tps = (n - 1) / Seconds(d0, d1);
      const double gb = g4rt_decode_weight_bytes(session) / 1e9;
      std::printf("decode: %d tokens in %.3f s = %.2f tok/s; %.3f GB of weights per token = %.1f GB/s\n",
                  n - 1, Seconds(d0, d1), tps, gb, gb * tps);
      if (profile)
        if (g4rt_status* st = PrintProfile(session, "decode", n - 1, Seconds(d0, d1))) return Fail(st);
    }
  }
  return 0;
}
