// g4serve's HTTP layer, slot pool and generation loop. See server.h and docs/server.md.
#include "serve/server.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gguf/gguf.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "serve/chat_page.h"
#include "text/chat_template.h"
#include "text/chat_tools.h"
#include "text/sampler.h"

namespace g4::serve {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

int64_t Micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

// An OpenAI-style failure: the HTTP status and the error object's fields.
struct ApiError {
  int status;
  std::string message;
  std::string type;
  std::string code;
  std::string param;
};

const char* TypeFor(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 500: case 503: return "server_error";
    default: return "invalid_request_error";
  }
}

ApiError Bad(std::string message, std::string param = "", std::string code = "") {
  return {400, std::move(message), TypeFor(400), std::move(code), std::move(param)};
}

json ErrorBody(const ApiError& e) {
  json error = {{"message", e.message}, {"type", e.type.empty() ? TypeFor(e.status) : e.type},
                {"param", e.param.empty() ? json(nullptr) : json(e.param)},
                {"code", e.code.empty() ? json(nullptr) : json(e.code)}};
  return {{"error", error}};
}

void SendError(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(ErrorBody(e).dump(), "application/json");
}

// UTF-8 safe JSON text (the model may emit a partial character at a cut).
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The largest n <= limit that does not cut a UTF-8 character of s.
size_t Utf8Boundary(const std::string& s, size_t limit) {
  size_t n = std::min(limit, s.size());
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

// Where text may be released to a client: before the earliest suffix of `text` that is a proper
// prefix of one of `watched` (a stop string or a channel/tool marker that could still complete).
size_t SafeEnd(const std::string& text, const std::vector<std::string>& watched) {
  size_t end = text.size();
  for (const std::string& w : watched) {
    if (w.empty()) continue;
    const size_t from = text.size() > w.size() - 1 ? text.size() - (w.size() - 1) : 0;
    for (size_t p = from; p < end; ++p) {
      if (w.compare(0, text.size() - p, text, p, text.size() - p) == 0) {
        end = p;
        break;
      }
    }
  }
  return end;
}

// Typed field readers: absent or null gives the default; a wrong type is a 400 naming the field.
template <typename T>
bool Field(const json& body, const char* key, T* out, ApiError* error) {
  if (!body.contains(key) || body[key].is_null()) return true;
  const json& v = body[key];
  bool ok;
  if constexpr (std::is_same_v<T, bool>) ok = v.is_boolean();
  else if constexpr (std::is_same_v<T, std::string>) ok = v.is_string();
  else if constexpr (std::is_integral_v<T>) ok = v.is_number_integer();
  else ok = v.is_number();
  if (!ok) {
    *error = Bad(absl::StrCat("'", key, "' has the wrong type"), key, "invalid_type");
    return false;
  }
  *out = v.get<T>();
  return true;
}

}  // namespace

// What one request asks for, parsed and checked before it takes a slot.
struct Server::Request {
  bool chat = true;
  bool stream = false;
  bool include_usage = true;
  std::vector<int32_t> prompt;
  int64_t max_tokens = -1;
  text::SamplerConfig sampling;
  std::vector<std::string> stop;
  bool tools = false;
  bool thinking = false;
  bool ignore_eos = false;  // llama-server's: the end-of-generation tokens are never sampled
  std::string id;
  int64_t created = 0;
  // Called with each new piece of (thought, answer) text; false: the client is gone.
  std::function<bool(const std::string& thoughts, const std::string& content)> on_text;
  // Asked before every decode step; false: the client is gone (the generation is cancelled).
  std::function<bool()> alive;
};

// What generation produced.
struct Server::Generation {
  std::string text;  // decoded with the channel markers
  int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  int64_t prefill_us = 0, decode_us = 0;
  std::string finish_reason = "stop";
};

// A slot held by one request; released (cache kept) by Release() or when destroyed. Responses
// release it as soon as generation ends, before their last write: httplib destroys the content
// provider (and this lease) only after the client has the whole response, and a client that sends
// its next request at once must find the slot free.
class Server::Lease {
 public:
  Lease(Server* server, Slot* slot) : server_(server), slot_(slot) {}
  ~Lease() { Release(); }
  Slot* slot() const { return slot_; }
  void Release() {
    if (slot_ != nullptr) server_->Release(slot_);
    slot_ = nullptr;
  }

 private:
  Server* server_;
  Slot* slot_;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerOptions& options) {
  if (options.slots < 1) return absl::InvalidArgumentError("--slots must be at least 1");
  if (options.max_queue < 0) return absl::InvalidArgumentError("--queue must not be negative");
  auto server = std::unique_ptr<Server>(new Server());
  server->options_ = options;
  server->model_id_ = std::filesystem::path(options.model_path).filename().string();
  G4_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::Open(options.model_path));
  G4_ASSIGN_OR_RETURN(server->tokenizer_, text::Tokenizer::FromGguf(*file));
  server->stop_tokens_ = text::StopTokensFor(*server->tokenizer_);
  // llama.cpp ends a Gemma 4 generation at <|tool_response> too: the model waits for the result.
  const int32_t tool_response = server->tokenizer_->FindToken("<|tool_response>");
  if (tool_response >= 0) server->stop_tokens_.push_back(tool_response);
  if (!options.scripted_text.empty()) {
    const std::vector<int32_t> ids = server->tokenizer_->Encode(options.scripted_text, false, true);
    server->options_.scripted_output.insert(server->options_.scripted_output.end(), ids.begin(), ids.end());
  }
  exec::SessionOptions session_options;
  session_options.threads = options.threads;
  session_options.device = options.device;
  session_options.max_context = options.ctx;
  for (int i = 0; i < options.slots; ++i) {
    auto slot = std::make_unique<Slot>();
    G4_ASSIGN_OR_RETURN(slot->session, exec::Session::Open(options.plan_dir, options.model_path, session_options));
    server->slots_.push_back(std::move(slot));
  }
  server->context_ = server->slots_[0]->session->backend().context_capacity();
  server->http_ = std::make_unique<httplib::Server>();
  server->Route();
  return server;
}

Server::~Server() = default;

absl::StatusOr<int> Server::Bind() {
  int port = options_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.host.c_str());
  } else if (!http_->bind_to_port(options_.host.c_str(), port)) {
    port = -1;
  }
  if (port < 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.host, ":", options_.port));
  return port;
}

void Server::Run() { http_->listen_after_bind(); }

void Server::Shutdown() {
  stopping_ = true;
  cv_.notify_all();
  http_->stop();
}

absl::StatusOr<std::unique_ptr<Server::Lease>> Server::Acquire(const std::vector<int32_t>& prompt) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  auto free_slot = [&] {
    return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return !s->busy; });
  };
  // Only a request that has to wait takes a queue place (--queue 0: never wait).
  if (!(waiting_.empty() && free_slot()) && int(waiting_.size()) >= options_.max_queue) {
    return absl::ResourceExhaustedError(absl::StrCat("the queue is full (", options_.max_queue, " waiting)"));
  }
  const uint64_t ticket = next_ticket_++;
  waiting_.push_back(ticket);
  metrics_.queue_depth = int(waiting_.size());
  cv_.wait(lock, [&] { return stopping_ || (waiting_.front() == ticket && free_slot()); });
  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), ticket));
  metrics_.queue_depth = int(waiting_.size());
  if (stopping_) {
    cv_.notify_all();
    return absl::UnavailableError("the server is shutting down");
  }
  // A free slot whose cache this prompt continues (the common prefix is at least half of what
  // the slot holds: the same conversation, not just the same template opening), the longest such
  // prefix first; otherwise the least recently used slot (an empty one first), so one
  // conversation's cache is not evicted for another that shares only `<bos><|turn>user`.
  Slot* best = nullptr;
  size_t best_common = 0;
  for (const auto& s : slots_) {
    if (s->busy) continue;
    size_t common = 0;
    while (common < s->cached.size() && common < prompt.size() && s->cached[common] == prompt[common]) ++common;
    if (common > 0 && 2 * common >= s->cached.size() && common > best_common) {
      best = s.get();
      best_common = common;
    }
  }
  if (best == nullptr) {
    for (const auto& s : slots_) {
      if (!s->busy && (best == nullptr || s->last_used < best->last_used)) best = s.get();
    }
  }
  best->busy = true;
  best->last_used = ++use_clock_;
  ++metrics_.slots_busy;
  cv_.notify_all();  // the next ticket may proceed if another slot is free
  return std::make_unique<Lease>(this, best);
}

void Server::Release(Slot* slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    slot->busy = false;
    --metrics_.slots_busy;
  }
  cv_.notify_all();
}

// Evaluates `tokens` at the slot's next positions and records them as cached. On failure the slot
// is emptied: what its cache holds is unknown then.
absl::Status Server::EvalInSlot(Slot* slot, const std::vector<int32_t>& tokens) {
  absl::Status s = slot->session->Eval(tokens);
  if (s.ok()) {
    slot->cached.insert(slot->cached.end(), tokens.begin(), tokens.end());
  } else {
    slot->session->Reset();
    slot->cached.clear();
  }
  return s;
}

absl::Status Server::Generate(Slot* slot, Request& r, Generation* out) {
  exec::Session& session = *slot->session;
  const std::vector<int32_t>& prompt = r.prompt;
  // The chat mode's Rewind (g4run_text.cc): keep the longest common prefix, re-evaluate at least
  // the last prompt token for its logits.
  size_t common = 0;
  while (common < slot->cached.size() && common < prompt.size() && slot->cached[common] == prompt[common]) ++common;
  if (common == prompt.size()) --common;
  if (!session.Rewind(int64_t(common)).ok()) {  // a sliding ring that has moved on
    session.Reset();
    common = 0;
  }
  slot->cached.resize(common);
  out->prompt_tokens = int64_t(prompt.size());
  out->cached_tokens = int64_t(common);
  const std::vector<int32_t> fresh(prompt.begin() + common, prompt.end());
  auto t0 = Clock::now();
  G4_RETURN_IF_ERROR(EvalInSlot(slot, fresh));
  out->prefill_us = Micros(t0, Clock::now());
  metrics_.prompt_tokens += out->prompt_tokens;
  metrics_.prompt_tokens_evaluated += int64_t(fresh.size());
  metrics_.prefill_us += out->prefill_us;

  text::SamplerConfig sampling = r.sampling;
  sampling.stop_tokens = stop_tokens_;
  text::Sampler sampler(sampling);
  text::DecodeStream stream(tokenizer_.get(), /*render_special=*/false);
  // Text is released to the client only up to where a stop string or marker could still begin.
  std::vector<std::string> watched = r.stop;
  if (r.chat) {
    for (const char* marker : {"<|channel>thought\n", "<channel|>", "<|tool_call>"}) watched.push_back(marker);
  }
  std::string sent_thoughts, sent_content;
  bool cancelled = false;
  auto emit = [&](size_t upto) {
    upto = Utf8Boundary(out->text, upto);
    text::ModelOutput parsed;
    if (r.chat) {
      parsed = text::ParseModelOutput(out->text.substr(0, upto));
    } else {  // a raw completion is sent as written, markers and all
      parsed.content = out->text.substr(0, upto);
    }
    if (r.tools) {  // calls are sent whole at the end, never as text
      const size_t call = parsed.content.find("<|tool_call>");
      if (call != std::string::npos) parsed.content.resize(call);
    }
    std::string dt, dc;
    if (absl::StartsWith(parsed.thoughts, sent_thoughts)) dt = parsed.thoughts.substr(sent_thoughts.size());
    if (absl::StartsWith(parsed.content, sent_content)) dc = parsed.content.substr(sent_content.size());
    if (dt.empty() && dc.empty()) return;
    sent_thoughts += dt;
    sent_content += dc;
    if (r.on_text && !r.on_text(dt, dc)) cancelled = true;
  };
  auto d0 = Clock::now();
  const int64_t room = context_ - int64_t(prompt.size());
  const int64_t limit = r.max_tokens < 0 ? std::min<int64_t>(room, 256) : std::min(r.max_tokens, room);
  out->finish_reason = "length";
  bool cut_at_stop_string = false;
  std::vector<float> masked;  // [vocab] float32: this step's logits without the stop tokens
  for (int64_t i = 0; i < limit; ++i) {
    if (stopping_ || cancelled || (r.alive && !r.alive())) {
      out->finish_reason = "cancelled";
      break;
    }
    const float* logits = session.logits() + (session.logits_rows() - 1) * session.vocab();
    if (r.ignore_eos) {  // a copy with the stop tokens at -inf (the session's logits are const)
      masked.assign(logits, logits + session.vocab());
      for (int32_t id : stop_tokens_) {
        if (id >= 0 && id < session.vocab()) masked[size_t(id)] = -std::numeric_limits<float>::infinity();
      }
      logits = masked.data();
    }
    const int32_t next = size_t(i) < options_.scripted_output.size()
                             ? options_.scripted_output[size_t(i)]
                             : sampler.Sample(absl::MakeConstSpan(logits, size_t(session.vocab())));
    sampler.Accept(next);
    if (sampler.IsStop(next)) {
      out->finish_reason = "stop";
      break;
    }
    ++out->completion_tokens;
    out->text += stream.Push(next);
    size_t stop_at = std::string::npos;
    for (const std::string& s : r.stop) stop_at = std::min(stop_at, out->text.find(s));
    if (stop_at != std::string::npos) {
      out->text.resize(stop_at);
      out->finish_reason = "stop";
      cut_at_stop_string = true;
      break;
    }
    emit(SafeEnd(out->text, watched));
    if (i + 1 == limit) break;  // no logits needed after the last token
    G4_RETURN_IF_ERROR(EvalInSlot(slot, {next}));
  }
  if (!cut_at_stop_string) out->text += stream.Finish();
  if (out->finish_reason != "cancelled") emit(out->text.size());
  if (cancelled || out->finish_reason == "cancelled") {
    out->finish_reason = "cancelled";
    ++metrics_.cancelled;
  }
  out->decode_us = Micros(d0, Clock::now());
  metrics_.completion_tokens += out->completion_tokens;
  metrics_.decode_us += out->decode_us;
  return absl::OkStatus();
}

namespace {

// usage and llama-server's timings for one generation.
void AddUsage(json* body, int64_t prompt, int64_t cached, int64_t completion, int64_t prefill_us, int64_t decode_us) {
  (*body)["usage"] = {{"prompt_tokens", prompt},
                      {"completion_tokens", completion},
                      {"total_tokens", prompt + completion},
                      {"prompt_tokens_details", {{"cached_tokens", cached}}}};
  const double prompt_ms = prefill_us / 1e3, predicted_ms = decode_us / 1e3;
  (*body)["timings"] = {{"cache_n", cached},
                        {"prompt_n", prompt - cached},
                        {"prompt_ms", prompt_ms},
                        {"prompt_per_second", prompt_ms > 0 ? (prompt - cached) / (prompt_ms / 1e3) : 0.0},
                        {"predicted_n", completion},
                        {"predicted_ms", predicted_ms},
                        {"predicted_per_second", predicted_ms > 0 ? completion / (predicted_ms / 1e3) : 0.0}};
}

ApiError FromStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kResourceExhausted: return {429, std::string(s.message()), "", "", ""};
    case absl::StatusCode::kUnavailable: return {503, std::string(s.message()), "", "", ""};
    case absl::StatusCode::kInvalidArgument: return Bad(std::string(s.message()));
    case absl::StatusCode::kOutOfRange: return Bad(std::string(s.message()), "messages", "context_length_exceeded");
    default: return {500, std::string(s.message()), "", "", ""};
  }
}

}  // namespace

bool Server::Authorized(const httplib::Request& req, httplib::Response& res) {
  if (options_.api_key.empty()) return true;
  if (req.get_header_value("Authorization") == "Bearer " + options_.api_key) return true;
  SendError(res, {401, "invalid or missing API key (Authorization: Bearer KEY)", "", "invalid_api_key", ""});
  return false;
}

void Server::Route() {
  http_->set_payload_max_length(options_.max_body_bytes);
  // Every request may wait for a slot: enough threads for the slots and the queue, and a few
  // for /health and /metrics while all of those are taken.
  const int threads = options_.slots + options_.max_queue + 4;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      SendError(res, {413, "the request body is over the size limit", "", "request_too_large", ""});
    } else if (res.status == 404) {
      SendError(res, {404, absl::StrCat("no such endpoint: ", req.method, " ", req.path), "invalid_request_error", "", ""});
    } else {
      SendError(res, {res.status, "bad request", "", "", ""});
    }
  });
  http_->set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    ++metrics_.errors;
    SendError(res, {500, what, "", "", ""});
  });
  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (stopping_) return SendError(res, {503, "shutting down", "", "", ""});
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kChatPage, "text/html; charset=utf-8");
  });
  http_->Get("/metrics", [this](const httplib::Request& q, httplib::Response& s) { HandleMetrics(q, s); });
  http_->Get("/v1/models", [this](const httplib::Request& q, httplib::Response& s) { HandleModels(q, s); });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& s) { HandleChat(q, s, true); });
  http_->Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& s) { HandleChat(q, s, false); });
}

void Server::HandleModels(const httplib::Request& req, httplib::Response& res) {
  ++metrics_.requests;
  if (!Authorized(req, res)) return;
  json model = {{"id", model_id_}, {"object", "model"}, {"created", 0}, {"owned_by", "gemma4c"},
                {"meta", {{"n_ctx", context_}, {"n_vocab", tokenizer_->size()}, {"slots", options_.slots}}}};
  res.set_content(json({{"object", "list"}, {"data", json::array({model})}}).dump(), "application/json");
}

void Server::HandleMetrics(const httplib::Request&, httplib::Response& res) {
  const Metrics& m = metrics_;
  auto rate = [](int64_t tokens, int64_t us) { return us > 0 ? tokens / (us / 1e6) : 0.0; };
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ", value, "\n");
  };
  metric("g4serve_requests_total", "counter", "HTTP requests to the API endpoints", m.requests.load());
  metric("g4serve_errors_total", "counter", "API requests answered with an error", m.errors.load());
  metric("g4serve_cancelled_total", "counter", "generations cancelled (client gone or shutdown)", m.cancelled.load());
  metric("g4serve_prompt_tokens_total", "counter", "prompt tokens of all requests", m.prompt_tokens.load());
  metric("g4serve_prompt_tokens_evaluated_total", "counter",
         "prompt tokens evaluated (the rest came from a cached prefix)", m.prompt_tokens_evaluated.load());
  metric("g4serve_completion_tokens_total", "counter", "generated tokens", m.completion_tokens.load());
  metric("g4serve_prefill_tokens_per_second", "gauge", "evaluated prompt tokens per second of prefill",
         rate(m.prompt_tokens_evaluated, m.prefill_us));
  metric("g4serve_decode_tokens_per_second", "gauge", "generated tokens per second of decode",
         rate(m.completion_tokens, m.decode_us));
  metric("g4serve_queue_depth", "gauge", "requests waiting for a slot", m.queue_depth.load());
  metric("g4serve_slots_busy", "gauge", "slots generating", m.slots_busy.load());
  metric("g4serve_slots", "gauge", "slots", options_.slots);
  res.set_content(out, "text/plain; version=0.0.4");
}

void Server::HandleChat(const httplib::Request& req, httplib::Response& res, bool chat) {
  ++metrics_.requests;
  auto fail = [&](const ApiError& e) {
    ++metrics_.errors;
    SendError(res, e);
  };
  if (!Authorized(req, res)) return (void)++metrics_.errors;
  if (stopping_) return fail({503, "the server is shutting down", "", "", ""});
  const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return fail(Bad("the body is not valid JSON", "", "invalid_json"));
  if (!body.is_object()) return fail(Bad("the body must be a JSON object"));

  auto r = std::make_shared<Request>();
  r->chat = chat;
  ApiError error{};
  std::string model;
  double temperature = 1.0, top_p = 1.0, min_p = 0.0, repeat = 1.0;
  int64_t top_k = 0, seed = -1;
  if (!Field(body, "model", &model, &error) || !Field(body, "stream", &r->stream, &error) ||
      !Field(body, "max_tokens", &r->max_tokens, &error) || !Field(body, "temperature", &temperature, &error) ||
      !Field(body, "top_p", &top_p, &error) || !Field(body, "top_k", &top_k, &error) ||
      !Field(body, "min_p", &min_p, &error) || !Field(body, "seed", &seed, &error) ||
      !Field(body, "repeat_penalty", &repeat, &error) || !Field(body, "ignore_eos", &r->ignore_eos, &error)) {
    return fail(error);
  }
  if (body.contains("max_completion_tokens") && !Field(body, "max_completion_tokens", &r->max_tokens, &error)) return fail(error);
  int64_t n = 1;
  if (!Field(body, "n", &n, &error)) return fail(error);
  if (n != 1) return fail(Bad("only n = 1 is supported", "n", "unsupported_value"));
  if (!model.empty() && model != model_id_) {
    return fail({404, absl::StrCat("model '", model, "' is not served here (served: '", model_id_, "')"), "", "model_not_found", "model"});
  }
  if (temperature < 0 || top_p <= 0 || top_p > 1 || min_p < 0 || min_p > 1 || (body.contains("max_tokens") && r->max_tokens < 0)) {
    return fail(Bad("a sampling parameter is out of range (temperature >= 0, 0 < top_p <= 1, 0 <= min_p <= 1, max_tokens >= 0)"));
  }
  r->sampling.temperature = float(temperature);
  r->sampling.top_p = float(top_p);
  r->sampling.top_k = int32_t(top_k);
  r->sampling.min_p = float(min_p);
  r->sampling.repetition_penalty = float(repeat);
  r->sampling.seed = seed >= 0 ? uint64_t(seed) : uint64_t(Clock::now().time_since_epoch().count());
  if (body.contains("stop") && !body["stop"].is_null()) {
    const json& stop = body["stop"];
    if (stop.is_string()) {
      r->stop.push_back(stop.get<std::string>());
    } else if (stop.is_array() && std::all_of(stop.begin(), stop.end(), [](const json& s) { return s.is_string(); })) {
      for (const json& s : stop) r->stop.push_back(s.get<std::string>());
    } else {
      return fail(Bad("'stop' must be a string or an array of strings", "stop", "invalid_type"));
    }
    r->stop.erase(std::remove(r->stop.begin(), r->stop.end(), ""), r->stop.end());
  }
  if (body.contains("stream_options") && body["stream_options"].is_object()) {
    Field(body["stream_options"], "include_usage", &r->include_usage, &error);
  }

  if (chat) {
    if (!body.contains("messages")) return fail(Bad("'messages' is required", "messages"));
    if (!body["messages"].is_array()) return fail(Bad("'messages' must be an array", "messages", "invalid_type"));
    if (body["messages"].empty()) return fail(Bad("'messages' must not be empty", "messages"));
    absl::StatusOr<std::vector<text::ChatMessage>> messages = text::ChatMessagesFromJson(body["messages"]);
    if (!messages.ok()) return fail(Bad(std::string(messages.status().message()), "messages"));
    text::ChatTemplateOptions t;
    // Thinking: reasoning_effort other than "none", chat_template_kwargs.enable_thinking, or
    // llama-server's "thinking": true.
    if (body.contains("reasoning_effort") && body["reasoning_effort"].is_string()) {
      r->thinking = body["reasoning_effort"] != "none";
    }
    if (body.contains("chat_template_kwargs") && body["chat_template_kwargs"].is_object()) {
      if (!Field(body["chat_template_kwargs"], "enable_thinking", &r->thinking, &error)) return fail(error);
    }
    if (!Field(body, "thinking", &r->thinking, &error)) return fail(error);
    t.enable_thinking = r->thinking;
    // tool_choice: "auto" and "required" render every tool (nothing here can force a call:
    // there is no grammar); "none" renders none; {"type":"function","function":{"name":N}}
    // renders only N.
    if (body.contains("tools") && !body["tools"].is_null()) {
      if (!body["tools"].is_array()) return fail(Bad("'tools' must be an array", "tools", "invalid_type"));
      t.tools = body["tools"];
    }
    if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
      const json& choice = body["tool_choice"];
      if (choice.is_string()) {
        if (choice == "none") {
          t.tools = json();
        } else if (choice != "auto" && choice != "required") {
          return fail(Bad("'tool_choice' must be \"none\", \"auto\", \"required\" or a function", "tool_choice"));
        }
      } else if (choice.is_object() && choice.contains("function") && choice["function"].is_object() &&
                 choice["function"].contains("name") && choice["function"]["name"].is_string()) {
        const std::string name = choice["function"]["name"];
        json chosen = json::array();
        for (const json& tool : t.tools.is_array() ? t.tools : json::array()) {
          if (tool.is_object() && tool.contains("function") && tool["function"].is_object() &&
              tool["function"].contains("name") && tool["function"]["name"] == name) {
            chosen.push_back(tool);
          }
        }
        if (chosen.empty()) return fail(Bad(absl::StrCat("tool_choice names '", name, "', which is not in 'tools'"), "tool_choice"));
        t.tools = chosen;
      } else {
        return fail(Bad("'tool_choice' must be a string or {\"type\":\"function\",\"function\":{\"name\":...}}", "tool_choice", "invalid_type"));
      }
    }
    r->tools = t.tools.is_array() && !t.tools.empty();
    absl::StatusOr<std::string> prompt = text::ApplyChatTemplate(*messages, t);
    if (!prompt.ok()) return fail(Bad(std::string(prompt.status().message()), "messages"));
    r->prompt = tokenizer_->Encode(*prompt, /*add_bos=*/true, /*parse_special=*/true);
  } else {
    if (!body.contains("prompt")) return fail(Bad("'prompt' is required", "prompt"));
    const json& p = body["prompt"];
    std::string prompt;
    if (p.is_string()) {
      prompt = p.get<std::string>();
    } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
      prompt = p[0].get<std::string>();
    } else {
      return fail(Bad("'prompt' must be a string (or an array of one string)", "prompt", "invalid_type"));
    }
    r->prompt = tokenizer_->Encode(prompt, /*add_bos=*/true, /*parse_special=*/true);
  }
  if (int64_t(r->prompt.size()) >= context_) {
    return fail(Bad(absl::StrCat("the prompt is ", r->prompt.size(), " tokens; the context holds ", context_),
                    chat ? "messages" : "prompt", "context_length_exceeded"));
  }
  r->id = absl::StrCat(chat ? "chatcmpl-" : "cmpl-", ++request_counter_);
  r->created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  absl::StatusOr<std::unique_ptr<Lease>> lease = Acquire(r->prompt);
  if (!lease.ok()) return fail(FromStatus(lease.status()));

  const std::string object = chat ? "chat.completion" : "text_completion";
  // The final response body (non-streaming) or last chunk (streaming) from a generation.
  auto finish_body = [this, r, object](const Generation& g, bool chunk) {
    json choice = {{"index", 0}, {"finish_reason", g.finish_reason}};
    text::ModelOutput parsed = text::ParseModelOutput(g.text);
    text::ToolCallOutput calls;
    if (r->tools) calls = text::ParseToolCalls(parsed.content);
    json tool_calls = json::array();
    for (size_t i = 0; i < calls.calls.size(); ++i) {
      tool_calls.push_back({{"index", i}, {"id", absl::StrCat(r->id, "-call-", i)}, {"type", "function"},
                            {"function", {{"name", calls.calls[i].name}, {"arguments", Dump(calls.calls[i].arguments)}}}});
    }
    if (!tool_calls.empty()) choice["finish_reason"] = "tool_calls";
    if (r->chat) {
      json message = {{"role", "assistant"}};
      if (!chunk) {
        message["content"] = r->tools ? calls.content : parsed.content;
        if (!tool_calls.empty() && calls.content.empty()) message["content"] = nullptr;  // as OpenAI
        if (!parsed.thoughts.empty()) message["reasoning_content"] = parsed.thoughts;
      }
      if (!tool_calls.empty()) message["tool_calls"] = tool_calls;
      if (chunk) {
        message.erase("role");
        choice["delta"] = message;
      } else {
        choice["message"] = message;
      }
    } else {
      choice["text"] = chunk ? "" : g.text;
    }
    json out = {{"id", r->id}, {"object", chunk ? object + (r->chat ? ".chunk" : "") : object},
                {"created", r->created}, {"model", model_id_}, {"choices", json::array({choice})}};
    if (!chunk || r->include_usage) {
      AddUsage(&out, g.prompt_tokens, g.cached_tokens, g.completion_tokens, g.prefill_us, g.decode_us);
    }
    return out;
  };

  // Generation runs inside a chunked content provider, on this request's thread, for both kinds
  // of response: that is where httplib lets the handler see the connection. DataSink::is_writable
  // (Debian's 0.11.4: select for write and a MSG_PEEK probe) turns false once the client has
  // closed, which cancels the generation and frees the slot. The price for the non-streaming
  // kind: the 200 status is sent before generation, so a runtime failure during it arrives as an
  // error object in a 200 body (failures found before, such as a prompt over the context, keep
  // their own status).
  std::shared_ptr<Lease> held(std::move(*lease));
  if (!r->stream) {
    res.set_chunked_content_provider(
        "application/json", [this, r, held, finish_body](size_t, httplib::DataSink& sink) {
          r->alive = [&sink] { return sink.is_writable(); };
          Generation g;
          absl::Status s = Generate(held->slot(), *r, &g);
        held->Release();
          if (!s.ok()) ++metrics_.errors;
          const std::string body = s.ok() ? Dump(finish_body(g, false)) : ErrorBody(FromStatus(s)).dump();
          if (sink.is_writable()) sink.write(body.data(), body.size());
          sink.done();
          return true;
        });
    return;
  }

  // Streaming: generation runs inside the content provider, on this request's thread; a write
  // that fails (the client went away) cancels it and the lease frees the slot.
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, r, held, object, finish_body](size_t, httplib::DataSink& sink) {
        auto send = [&sink](const json& chunk) {
          const std::string line = "data: " + Dump(chunk) + "\n\n";
          return sink.is_writable() && sink.write(line.data(), line.size());
        };
        auto chunk = [&](const json& delta_or_text) {
          json choice = {{"index", 0}, {"finish_reason", nullptr}};
          if (r->chat) choice["delta"] = delta_or_text; else choice["text"] = delta_or_text;
          return json{{"id", r->id}, {"object", r->chat ? object + ".chunk" : object}, {"created", r->created},
                      {"model", model_id_}, {"choices", json::array({choice})}};
        };
        if (r->chat && !send(chunk(json{{"role", "assistant"}, {"content", ""}}))) return false;
        r->alive = [&sink] { return sink.is_writable(); };
        r->on_text = [&](const std::string& thoughts, const std::string& content) {
          if (!r->chat) return send(chunk(json(content)));
          json delta = json::object();
          if (!thoughts.empty()) delta["reasoning_content"] = thoughts;
          if (!content.empty()) delta["content"] = content;
          return send(chunk(delta));
        };
        Generation g;
        absl::Status s = Generate(held->slot(), *r, &g);
        held->Release();
        if (!s.ok()) {
          ++metrics_.errors;
          const std::string line = "data: " + ErrorBody(FromStatus(s)).dump() + "\n\n";
          sink.write(line.data(), line.size());
        } else if (g.finish_reason != "cancelled") {
          send(finish_body(g, true));
        }
        const std::string done = "data: [DONE]\n\n";
        if (sink.is_writable()) sink.write(done.data(), done.size());
        sink.done();
        return true;
      });
}

}  // namespace g4::serve
