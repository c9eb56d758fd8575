// g4serve: an OpenAI-compatible HTTP server for a compiled Gemma 4 model (docs/server.md).
//
//   g4serve OUTDIR --model M.gguf [--host 127.0.0.1] [--port 8080] [--slots N] [--ctx N] [--api-key K]
//
// SIGTERM / SIGINT stop it gracefully: new requests get 503, running generations end at their next
// token, and the process exits 0 once the listener has closed.
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "serve/server.h"

ABSL_FLAG(std::string, model, "", "GGUF model file");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 8080, "port to listen on (0: any free port, printed at start)");
ABSL_FLAG(int, slots, 1, "concurrent sessions, each with its own KV cache");
ABSL_FLAG(int64_t, ctx, 0, "positions each slot's KV cache holds (0: the model's context length)");
ABSL_FLAG(std::string, api_key, "", "require 'Authorization: Bearer KEY' on the API endpoints");
ABSL_FLAG(int, queue, 16, "requests that may wait for a slot; more get 429");
ABSL_FLAG(uint64_t, max_body, 4u << 20, "largest request body in bytes; larger get 413");
ABSL_FLAG(int, threads, 1, "CPU threads per slot");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda");
ABSL_FLAG(std::string, test_scripted_output, "",
          "tests only: every generation writes this text (special tokens parsed) before sampling");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "g4serve OUTDIR --model M.gguf [--host H] [--port P] [--slots N] [--ctx N] [--api-key K]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2 || absl::GetFlag(FLAGS_model).empty()) {
    std::fprintf(stderr, "usage: g4serve OUTDIR --model M.gguf [--port P] [--slots N] ...\n");
    return 2;
  }
  g4::serve::ServerOptions options;
  options.plan_dir = args[1];
  options.model_path = absl::GetFlag(FLAGS_model);
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.slots = absl::GetFlag(FLAGS_slots);
  options.ctx = absl::GetFlag(FLAGS_ctx);
  options.api_key = absl::GetFlag(FLAGS_api_key);
  options.max_queue = absl::GetFlag(FLAGS_queue);
  options.max_body_bytes = absl::GetFlag(FLAGS_max_body);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.scripted_text = absl::GetFlag(FLAGS_test_scripted_output);
  const std::string device = absl::GetFlag(FLAGS_device);
  if (device == "cuda") {
    options.device = g4::exec::Device::kCuda;
  } else if (device != "cpu") {
    std::fprintf(stderr, "g4serve: --device must be cpu or cuda\n");
    return 2;
  }

  // Signals are taken synchronously by a watcher thread (sigwait), so Shutdown() runs outside a
  // signal handler. Blocked before any other thread starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error return, not a kill

  auto server = g4::serve::Server::Create(options);
  if (!server.ok()) {
    std::fprintf(stderr, "g4serve: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  auto port = (*server)->Bind();
  if (!port.ok()) {
    std::fprintf(stderr, "g4serve: %s\n", std::string(port.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "g4serve: serving %s on http://%s:%d (%d slot%s)\n", (*server)->model_id().c_str(),
               options.host.c_str(), *port, options.slots, options.slots == 1 ? "" : "s");
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "g4serve: signal %d, shutting down\n", sig);
    (*server)->Shutdown();
  });
  (*server)->Run();
  // Run() also returns if the listener fails; wake the watcher so join() returns either way.
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  std::fprintf(stderr, "g4serve: stopped\n");
  return 0;
}
