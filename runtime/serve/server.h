// g4serve: an OpenAI-compatible HTTP server over exec::Session and runtime/text (docs/server.md).
//
//   auto server = serve::Server::Create(options);   // opens one session per slot
//   int port = *(*server)->Bind();                  // 0 in options.port: any free port
//   (*server)->Run();                               // serves until Shutdown() (any thread)
#ifndef GEMMA4C_RUNTIME_SERVE_SERVER_H_
#define GEMMA4C_RUNTIME_SERVE_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "exec/session.h"
#include "text/tokenizer.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace g4::serve {

struct ServerOptions {
  std::string plan_dir;
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;                     // 0: any free port (Bind returns it)
  int slots = 1;                       // sessions, each with its own KV cache
  int64_t ctx = 0;                     // positions each slot holds (0: the model's)
  std::string api_key;                 // "" = no authentication
  size_t max_body_bytes = 4u << 20;    // larger bodies: 413
  int max_queue = 16;                  // requests waiting for a slot beyond this: 429
  int threads = 1;                     // CPU threads per session
  exec::Device device = exec::Device::kCpu;
  // Tests only: generation step i emits scripted_output[i] instead of a sampled token (the model
  // still evaluates it), so a test can make a random-weight model "write" a thought or a tool call
  // and check how the server turns that text into reasoning_content and tool_calls.
  std::vector<int32_t> scripted_output;
  // The same as text (encoded with special tokens), appended to scripted_output at Create.
  std::string scripted_text;
};

// Counters behind /metrics and the responses' usage (all monotonic except the gauges).
struct Metrics {
  std::atomic<int64_t> requests{0}, errors{0};
  std::atomic<int64_t> prompt_tokens{0};            // prompt tokens of every request
  std::atomic<int64_t> prompt_tokens_evaluated{0};  // of those, evaluated (not a cached prefix)
  std::atomic<int64_t> completion_tokens{0};
  std::atomic<int64_t> prefill_us{0}, decode_us{0};
  std::atomic<int64_t> cancelled{0};
  std::atomic<int> queue_depth{0}, slots_busy{0};
};

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Create(const ServerOptions& options);
  ~Server();

  // Binds the listening socket; returns the port.
  absl::StatusOr<int> Bind();
  // Serves on the bound socket until Shutdown(). Returns when the listener has stopped.
  void Run();
  // Graceful stop: new requests get 503, running generations end at their next token, the
  // listener closes. Safe from any thread (not from a signal handler: g4serve.cc uses a watcher).
  void Shutdown();

  const Metrics& metrics() const { return metrics_; }
  const std::string& model_id() const { return model_id_; }

  // One session with the tokens its KV cache holds.
  struct Slot {
    std::unique_ptr<exec::Session> session;
    std::vector<int32_t> cached;
    bool busy = false;
    uint64_t last_used = 0;
  };

 private:
  class Lease;
  struct Generation;
  struct Request;

  Server() = default;
  void Route();
  // Waits for a free slot (FIFO), preferring the one sharing the longest prefix with `prompt`.
  absl::StatusOr<std::unique_ptr<Lease>> Acquire(const std::vector<int32_t>& prompt);
  void Release(Slot* slot);
  absl::Status Generate(Slot* slot, Request& request, Generation* out);
  absl::Status EvalInSlot(Slot* slot, const std::vector<int32_t>& tokens);

  void HandleChat(const httplib::Request& req, httplib::Response& res, bool chat);
  void HandleModels(const httplib::Request& req, httplib::Response& res);
  void HandleMetrics(const httplib::Request& req, httplib::Response& res);
  bool Authorized(const httplib::Request& req, httplib::Response& res);

  ServerOptions options_;
  std::string model_id_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  std::vector<int32_t> stop_tokens_;
  int64_t context_ = 0;
  std::unique_ptr<httplib::Server> http_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<uint64_t> waiting_;  // tickets in arrival order
  uint64_t next_ticket_ = 0, use_clock_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> request_counter_{0};
  Metrics metrics_;
};

}  // namespace g4::serve

#endif  // GEMMA4C_RUNTIME_SERVE_SERVER_H_
